/** A failure the user can act on: `message` says what and where, `hint` what to do. */
export class TrainerError extends Error {
  constructor(
    message: string,
    readonly hint?: string,
  ) {
    super(message);
    this.name = 'TrainerError';
  }
}
