;; Fused and data-movement kernels for the TF.js wasm backend, in WebAssembly SIMD (f32x4).
;;
;; The module imports the TF.js module's own memory, so every pointer is a tensor's byte offset in the wasm heap
;; (`dataIdMap.get(dataId).memoryOffset`) and no data is copied in or out. Counts are in elements. The kernels that
;; take `n` or `h` need it to be a multiple of 4 (callers check); the transposes take any shape.
;;
;; Source of truth: `npm run generate:wasm` assembles this file (with wabt) into kernels.generated.ts, once with a
;; plain and once with a shared (threaded build) memory import; a unit test fails when the two drift apart.
;; Accuracy: exp is Cephes' expf polynomial after a Cody–Waite reduction (≤ 2 ulp); erf is a float32 rational
;; minimax fit, so Φ(x) is within ~3e-7 of the exact value (absolute: its lower tail is not relatively accurate,
;; which x·Φ(x) and the GELU gradient do not need).

(module
  (import "env" "memory" (memory 1)) ;; MEMORY_IMPORT

  ;; ---------------------------------------------------------------------------------------------------------
  ;; Helpers

  (func $hsum (param $v v128) (result f32)
    (f32.add
      (f32.add (f32x4.extract_lane 0 (local.get $v)) (f32x4.extract_lane 1 (local.get $v)))
      (f32.add (f32x4.extract_lane 2 (local.get $v)) (f32x4.extract_lane 3 (local.get $v)))))

  ;; e^w per lane, w clamped to [-87.3, 88.3] (results below the smallest normal float are not needed here).
  ;; Rounding by a "magic" bias: adding 1.5·2²³ + 127 leaves n + 127 = round(w·log₂e) + 127 in the low mantissa
  ;; bits, so shifting the bits left by 23 puts it in the exponent field: 2ⁿ without a float→int conversion.
  ;; pmin/pmax are single instructions where min/max need NaN handling (w is never NaN here).
  (func $exp4 (param $w v128) (result v128)
    (local $t v128) (local $n v128) (local $r v128) (local $p v128)
    (local.set $w
      (f32x4.pmax
        (f32x4.pmin (local.get $w) (v128.const f32x4 88.3 88.3 88.3 88.3))
        (v128.const f32x4 -87.3 -87.3 -87.3 -87.3)))
    (local.set $t
      (f32x4.add
        (f32x4.mul (local.get $w) (v128.const f32x4 1.44269504 1.44269504 1.44269504 1.44269504))
        (v128.const f32x4 12583039 12583039 12583039 12583039)))
    (local.set $n (f32x4.sub (local.get $t) (v128.const f32x4 12583039 12583039 12583039 12583039)))
    (local.set $r
      (f32x4.sub
        (f32x4.sub (local.get $w) (f32x4.mul (local.get $n) (v128.const f32x4 0.693359375 0.693359375 0.693359375 0.693359375)))
        (f32x4.mul (local.get $n) (v128.const f32x4 -2.12194440e-4 -2.12194440e-4 -2.12194440e-4 -2.12194440e-4))))
    (local.set $p (v128.const f32x4 1.9875691500e-4 1.9875691500e-4 1.9875691500e-4 1.9875691500e-4))
    (local.set $p (f32x4.add (f32x4.mul (local.get $p) (local.get $r)) (v128.const f32x4 1.3981999507e-3 1.3981999507e-3 1.3981999507e-3 1.3981999507e-3)))
    (local.set $p (f32x4.add (f32x4.mul (local.get $p) (local.get $r)) (v128.const f32x4 8.3334519073e-3 8.3334519073e-3 8.3334519073e-3 8.3334519073e-3)))
    (local.set $p (f32x4.add (f32x4.mul (local.get $p) (local.get $r)) (v128.const f32x4 4.1665795894e-2 4.1665795894e-2 4.1665795894e-2 4.1665795894e-2)))
    (local.set $p (f32x4.add (f32x4.mul (local.get $p) (local.get $r)) (v128.const f32x4 1.6666665459e-1 1.6666665459e-1 1.6666665459e-1 1.6666665459e-1)))
    (local.set $p (f32x4.add (f32x4.mul (local.get $p) (local.get $r)) (v128.const f32x4 5.0000001201e-1 5.0000001201e-1 5.0000001201e-1 5.0000001201e-1)))
    ;; p·r² + r + 1
    (local.set $p
      (f32x4.add
        (f32x4.add (f32x4.mul (local.get $p) (f32x4.mul (local.get $r) (local.get $r))) (local.get $r))
        (v128.const f32x4 1 1 1 1)))
    (f32x4.mul (local.get $p) (i32x4.shl (local.get $t) (i32.const 23))))

  ;; Φ(x) = ½ + ½·erf(x/√2) per lane, erf(z) = z·P(z²)/Q(z²) on z clamped to [−4, 4] (erf(4) = 1 − 1.5e-8): the
  ;; rational minimax fit that Eigen and XLA use for float32 (absolute error a few ulp; no exp, one division).
  (func $phi4 (param $x v128) (result v128)
    (local $z v128) (local $z2 v128) (local $p v128) (local $q v128)
    (local.set $z
      (f32x4.pmax
        (f32x4.pmin (f32x4.mul (local.get $x) (v128.const f32x4 0.70710678 0.70710678 0.70710678 0.70710678)) (v128.const f32x4 4 4 4 4))
        (v128.const f32x4 -4 -4 -4 -4)))
    (local.set $z2 (f32x4.mul (local.get $z) (local.get $z)))
    (local.set $p (f32x4.add (f32x4.mul (local.get $z2) (v128.const f32x4 -2.72614225801306e-10 -2.72614225801306e-10 -2.72614225801306e-10 -2.72614225801306e-10)) (v128.const f32x4 2.77068142495902e-08 2.77068142495902e-08 2.77068142495902e-08 2.77068142495902e-08)))
    (local.set $p (f32x4.add (f32x4.mul (local.get $z2) (local.get $p)) (v128.const f32x4 -2.10102402082508e-06 -2.10102402082508e-06 -2.10102402082508e-06 -2.10102402082508e-06)))
    (local.set $p (f32x4.add (f32x4.mul (local.get $z2) (local.get $p)) (v128.const f32x4 -5.69250639462346e-05 -5.69250639462346e-05 -5.69250639462346e-05 -5.69250639462346e-05)))
    (local.set $p (f32x4.add (f32x4.mul (local.get $z2) (local.get $p)) (v128.const f32x4 -7.34990630326855e-04 -7.34990630326855e-04 -7.34990630326855e-04 -7.34990630326855e-04)))
    (local.set $p (f32x4.add (f32x4.mul (local.get $z2) (local.get $p)) (v128.const f32x4 -2.95459980854025e-03 -2.95459980854025e-03 -2.95459980854025e-03 -2.95459980854025e-03)))
    (local.set $p (f32x4.add (f32x4.mul (local.get $z2) (local.get $p)) (v128.const f32x4 -1.60960333262415e-02 -1.60960333262415e-02 -1.60960333262415e-02 -1.60960333262415e-02)))
    (local.set $q (f32x4.add (f32x4.mul (local.get $z2) (v128.const f32x4 -1.45660718464996e-05 -1.45660718464996e-05 -1.45660718464996e-05 -1.45660718464996e-05)) (v128.const f32x4 -2.13374055278905e-04 -2.13374055278905e-04 -2.13374055278905e-04 -2.13374055278905e-04)))
    (local.set $q (f32x4.add (f32x4.mul (local.get $z2) (local.get $q)) (v128.const f32x4 -1.68282697438203e-03 -1.68282697438203e-03 -1.68282697438203e-03 -1.68282697438203e-03)))
    (local.set $q (f32x4.add (f32x4.mul (local.get $z2) (local.get $q)) (v128.const f32x4 -7.37332916720468e-03 -7.37332916720468e-03 -7.37332916720468e-03 -7.37332916720468e-03)))
    (local.set $q (f32x4.add (f32x4.mul (local.get $z2) (local.get $q)) (v128.const f32x4 -1.42647390514189e-02 -1.42647390514189e-02 -1.42647390514189e-02 -1.42647390514189e-02)))
    (f32x4.add
      (v128.const f32x4 0.5 0.5 0.5 0.5)
      (f32x4.mul (v128.const f32x4 0.5 0.5 0.5 0.5) (f32x4.div (f32x4.mul (local.get $z) (local.get $p)) (local.get $q)))))

  ;; Copy / zero n bytes: v128 moves, then single bytes for the tail. (memory.copy and memory.fill are much slower
  ;; on the threaded build's shared memory, where V8 cannot use a plain memmove.)
  (func $copy_bytes (param $dst i32) (param $src i32) (param $n i32)
    (local $j i32) (local $n16 i32)
    (local.set $n16 (i32.and (local.get $n) (i32.const -16)))
    (block $vectors_done
      (loop $vector
        (br_if $vectors_done (i32.ge_u (local.get $j) (local.get $n16)))
        (v128.store (i32.add (local.get $dst) (local.get $j)) (v128.load (i32.add (local.get $src) (local.get $j))))
        (local.set $j (i32.add (local.get $j) (i32.const 16)))
        (br $vector)))
    (block $bytes_done
      (loop $byte
        (br_if $bytes_done (i32.ge_u (local.get $j) (local.get $n)))
        (i32.store8 (i32.add (local.get $dst) (local.get $j)) (i32.load8_u (i32.add (local.get $src) (local.get $j))))
        (local.set $j (i32.add (local.get $j) (i32.const 1)))
        (br $byte))))

  (func $zero_bytes (param $dst i32) (param $n i32)
    (local $j i32) (local $n16 i32)
    (local.set $n16 (i32.and (local.get $n) (i32.const -16)))
    (block $vectors_done
      (loop $vector
        (br_if $vectors_done (i32.ge_u (local.get $j) (local.get $n16)))
        (v128.store (i32.add (local.get $dst) (local.get $j)) (v128.const i32x4 0 0 0 0))
        (local.set $j (i32.add (local.get $j) (i32.const 16)))
        (br $vector)))
    (block $bytes_done
      (loop $byte
        (br_if $bytes_done (i32.ge_u (local.get $j) (local.get $n)))
        (i32.store8 (i32.add (local.get $dst) (local.get $j)) (i32.const 0))
        (local.set $j (i32.add (local.get $j) (i32.const 1)))
        (br $byte))))

  ;; ---------------------------------------------------------------------------------------------------------
  ;; Element-wise (n a multiple of 4)

  ;; GELU (erf form): cdf = Φ(x), y = x·Φ(x). Sixteen floats per pass with $phi4 written out four times, its
  ;; dependency chains interleaved: one chain is ~20 dependent operations, a division among them, and four in flight
  ;; let the CPU overlap them (1M elements, one thread: 1.3 ms instead of 3.0 ms calling $phi4 per vector; a call
  ;; per four vectors: 2.0 ms). The last n mod 16 floats go through $phi4.
  (func (export "gelu") (param $x i32) (param $y i32) (param $cdf i32) (param $n i32)
    (local $end i32) (local $end16 i32) (local $v v128) (local $p v128)
    (local $v0 v128) (local $v1 v128) (local $v2 v128) (local $v3 v128)
    (local $z0 v128) (local $s0 v128) (local $p0 v128) (local $q0 v128) (local $z1 v128) (local $s1 v128) (local $p1 v128) (local $q1 v128) (local $z2 v128) (local $s2 v128) (local $p2 v128) (local $q2 v128) (local $z3 v128) (local $s3 v128) (local $p3 v128) (local $q3 v128)
    (local.set $end (i32.add (local.get $x) (i32.shl (local.get $n) (i32.const 2))))
    (local.set $end16 (i32.add (local.get $x) (i32.shl (i32.and (local.get $n) (i32.const -16)) (i32.const 2))))
    (block $done16
      (loop $next16
        (br_if $done16 (i32.ge_u (local.get $x) (local.get $end16)))
        (local.set $v0 (v128.load offset=0 (local.get $x)))
        (local.set $v1 (v128.load offset=16 (local.get $x)))
        (local.set $v2 (v128.load offset=32 (local.get $x)))
        (local.set $v3 (v128.load offset=48 (local.get $x)))
        (local.set $z0 (f32x4.pmax (f32x4.pmin (f32x4.mul (local.get $v0) (v128.const f32x4 0.70710678 0.70710678 0.70710678 0.70710678)) (v128.const f32x4 4 4 4 4)) (v128.const f32x4 -4 -4 -4 -4)))
        (local.set $z1 (f32x4.pmax (f32x4.pmin (f32x4.mul (local.get $v1) (v128.const f32x4 0.70710678 0.70710678 0.70710678 0.70710678)) (v128.const f32x4 4 4 4 4)) (v128.const f32x4 -4 -4 -4 -4)))
        (local.set $z2 (f32x4.pmax (f32x4.pmin (f32x4.mul (local.get $v2) (v128.const f32x4 0.70710678 0.70710678 0.70710678 0.70710678)) (v128.const f32x4 4 4 4 4)) (v128.const f32x4 -4 -4 -4 -4)))
        (local.set $z3 (f32x4.pmax (f32x4.pmin (f32x4.mul (local.get $v3) (v128.const f32x4 0.70710678 0.70710678 0.70710678 0.70710678)) (v128.const f32x4 4 4 4 4)) (v128.const f32x4 -4 -4 -4 -4)))
        (local.set $s0 (f32x4.mul (local.get $z0) (local.get $z0)))
        (local.set $s1 (f32x4.mul (local.get $z1) (local.get $z1)))
        (local.set $s2 (f32x4.mul (local.get $z2) (local.get $z2)))
        (local.set $s3 (f32x4.mul (local.get $z3) (local.get $z3)))
        (local.set $p0 (f32x4.add (f32x4.mul (local.get $s0) (v128.const f32x4 -2.72614225801306e-10 -2.72614225801306e-10 -2.72614225801306e-10 -2.72614225801306e-10)) (v128.const f32x4 2.77068142495902e-08 2.77068142495902e-08 2.77068142495902e-08 2.77068142495902e-08)))
        (local.set $p1 (f32x4.add (f32x4.mul (local.get $s1) (v128.const f32x4 -2.72614225801306e-10 -2.72614225801306e-10 -2.72614225801306e-10 -2.72614225801306e-10)) (v128.const f32x4 2.77068142495902e-08 2.77068142495902e-08 2.77068142495902e-08 2.77068142495902e-08)))
        (local.set $p2 (f32x4.add (f32x4.mul (local.get $s2) (v128.const f32x4 -2.72614225801306e-10 -2.72614225801306e-10 -2.72614225801306e-10 -2.72614225801306e-10)) (v128.const f32x4 2.77068142495902e-08 2.77068142495902e-08 2.77068142495902e-08 2.77068142495902e-08)))
        (local.set $p3 (f32x4.add (f32x4.mul (local.get $s3) (v128.const f32x4 -2.72614225801306e-10 -2.72614225801306e-10 -2.72614225801306e-10 -2.72614225801306e-10)) (v128.const f32x4 2.77068142495902e-08 2.77068142495902e-08 2.77068142495902e-08 2.77068142495902e-08)))
        (local.set $q0 (f32x4.add (f32x4.mul (local.get $s0) (v128.const f32x4 -1.45660718464996e-05 -1.45660718464996e-05 -1.45660718464996e-05 -1.45660718464996e-05)) (v128.const f32x4 -2.13374055278905e-04 -2.13374055278905e-04 -2.13374055278905e-04 -2.13374055278905e-04)))
        (local.set $q1 (f32x4.add (f32x4.mul (local.get $s1) (v128.const f32x4 -1.45660718464996e-05 -1.45660718464996e-05 -1.45660718464996e-05 -1.45660718464996e-05)) (v128.const f32x4 -2.13374055278905e-04 -2.13374055278905e-04 -2.13374055278905e-04 -2.13374055278905e-04)))
        (local.set $q2 (f32x4.add (f32x4.mul (local.get $s2) (v128.const f32x4 -1.45660718464996e-05 -1.45660718464996e-05 -1.45660718464996e-05 -1.45660718464996e-05)) (v128.const f32x4 -2.13374055278905e-04 -2.13374055278905e-04 -2.13374055278905e-04 -2.13374055278905e-04)))
        (local.set $q3 (f32x4.add (f32x4.mul (local.get $s3) (v128.const f32x4 -1.45660718464996e-05 -1.45660718464996e-05 -1.45660718464996e-05 -1.45660718464996e-05)) (v128.const f32x4 -2.13374055278905e-04 -2.13374055278905e-04 -2.13374055278905e-04 -2.13374055278905e-04)))
        (local.set $p0 (f32x4.add (f32x4.mul (local.get $s0) (local.get $p0)) (v128.const f32x4 -2.10102402082508e-06 -2.10102402082508e-06 -2.10102402082508e-06 -2.10102402082508e-06)))
        (local.set $p1 (f32x4.add (f32x4.mul (local.get $s1) (local.get $p1)) (v128.const f32x4 -2.10102402082508e-06 -2.10102402082508e-06 -2.10102402082508e-06 -2.10102402082508e-06)))
        (local.set $p2 (f32x4.add (f32x4.mul (local.get $s2) (local.get $p2)) (v128.const f32x4 -2.10102402082508e-06 -2.10102402082508e-06 -2.10102402082508e-06 -2.10102402082508e-06)))
        (local.set $p3 (f32x4.add (f32x4.mul (local.get $s3) (local.get $p3)) (v128.const f32x4 -2.10102402082508e-06 -2.10102402082508e-06 -2.10102402082508e-06 -2.10102402082508e-06)))
        (local.set $q0 (f32x4.add (f32x4.mul (local.get $s0) (local.get $q0)) (v128.const f32x4 -1.68282697438203e-03 -1.68282697438203e-03 -1.68282697438203e-03 -1.68282697438203e-03)))
        (local.set $q1 (f32x4.add (f32x4.mul (local.get $s1) (local.get $q1)) (v128.const f32x4 -1.68282697438203e-03 -1.68282697438203e-03 -1.68282697438203e-03 -1.68282697438203e-03)))
        (local.set $q2 (f32x4.add (f32x4.mul (local.get $s2) (local.get $q2)) (v128.const f32x4 -1.68282697438203e-03 -1.68282697438203e-03 -1.68282697438203e-03 -1.68282697438203e-03)))
        (local.set $q3 (f32x4.add (f32x4.mul (local.get $s3) (local.get $q3)) (v128.const f32x4 -1.68282697438203e-03 -1.68282697438203e-03 -1.68282697438203e-03 -1.68282697438203e-03)))
        (local.set $p0 (f32x4.add (f32x4.mul (local.get $s0) (local.get $p0)) (v128.const f32x4 -5.69250639462346e-05 -5.69250639462346e-05 -5.69250639462346e-05 -5.69250639462346e-05)))
        (local.set $p1 (f32x4.add (f32x4.mul (local.get $s1) (local.get $p1)) (v128.const f32x4 -5.69250639462346e-05 -5.69250639462346e-05 -5.69250639462346e-05 -5.69250639462346e-05)))
        (local.set $p2 (f32x4.add (f32x4.mul (local.get $s2) (local.get $p2)) (v128.const f32x4 -5.69250639462346e-05 -5.69250639462346e-05 -5.69250639462346e-05 -5.69250639462346e-05)))
        (local.set $p3 (f32x4.add (f32x4.mul (local.get $s3) (local.get $p3)) (v128.const f32x4 -5.69250639462346e-05 -5.69250639462346e-05 -5.69250639462346e-05 -5.69250639462346e-05)))
        (local.set $q0 (f32x4.add (f32x4.mul (local.get $s0) (local.get $q0)) (v128.const f32x4 -7.37332916720468e-03 -7.37332916720468e-03 -7.37332916720468e-03 -7.37332916720468e-03)))
        (local.set $q1 (f32x4.add (f32x4.mul (local.get $s1) (local.get $q1)) (v128.const f32x4 -7.37332916720468e-03 -7.37332916720468e-03 -7.37332916720468e-03 -7.37332916720468e-03)))
        (local.set $q2 (f32x4.add (f32x4.mul (local.get $s2) (local.get $q2)) (v128.const f32x4 -7.37332916720468e-03 -7.37332916720468e-03 -7.37332916720468e-03 -7.37332916720468e-03)))
        (local.set $q3 (f32x4.add (f32x4.mul (local.get $s3) (local.get $q3)) (v128.const f32x4 -7.37332916720468e-03 -7.37332916720468e-03 -7.37332916720468e-03 -7.37332916720468e-03)))
        (local.set $p0 (f32x4.add (f32x4.mul (local.get $s0) (local.get $p0)) (v128.const f32x4 -7.34990630326855e-04 -7.34990630326855e-04 -7.34990630326855e-04 -7.34990630326855e-04)))
        (local.set $p1 (f32x4.add (f32x4.mul (local.get $s1) (local.get $p1)) (v128.const f32x4 -7.34990630326855e-04 -7.34990630326855e-04 -7.34990630326855e-04 -7.34990630326855e-04)))
        (local.set $p2 (f32x4.add (f32x4.mul (local.get $s2) (local.get $p2)) (v128.const f32x4 -7.34990630326855e-04 -7.34990630326855e-04 -7.34990630326855e-04 -7.34990630326855e-04)))
        (local.set $p3 (f32x4.add (f32x4.mul (local.get $s3) (local.get $p3)) (v128.const f32x4 -7.34990630326855e-04 -7.34990630326855e-04 -7.34990630326855e-04 -7.34990630326855e-04)))
        (local.set $q0 (f32x4.add (f32x4.mul (local.get $s0) (local.get $q0)) (v128.const f32x4 -1.42647390514189e-02 -1.42647390514189e-02 -1.42647390514189e-02 -1.42647390514189e-02)))
        (local.set $q1 (f32x4.add (f32x4.mul (local.get $s1) (local.get $q1)) (v128.const f32x4 -1.42647390514189e-02 -1.42647390514189e-02 -1.42647390514189e-02 -1.42647390514189e-02)))
        (local.set $q2 (f32x4.add (f32x4.mul (local.get $s2) (local.get $q2)) (v128.const f32x4 -1.42647390514189e-02 -1.42647390514189e-02 -1.42647390514189e-02 -1.42647390514189e-02)))
        (local.set $q3 (f32x4.add (f32x4.mul (local.get $s3) (local.get $q3)) (v128.const f32x4 -1.42647390514189e-02 -1.42647390514189e-02 -1.42647390514189e-02 -1.42647390514189e-02)))
        (local.set $p0 (f32x4.add (f32x4.mul (local.get $s0) (local.get $p0)) (v128.const f32x4 -2.95459980854025e-03 -2.95459980854025e-03 -2.95459980854025e-03 -2.95459980854025e-03)))
        (local.set $p1 (f32x4.add (f32x4.mul (local.get $s1) (local.get $p1)) (v128.const f32x4 -2.95459980854025e-03 -2.95459980854025e-03 -2.95459980854025e-03 -2.95459980854025e-03)))
        (local.set $p2 (f32x4.add (f32x4.mul (local.get $s2) (local.get $p2)) (v128.const f32x4 -2.95459980854025e-03 -2.95459980854025e-03 -2.95459980854025e-03 -2.95459980854025e-03)))
        (local.set $p3 (f32x4.add (f32x4.mul (local.get $s3) (local.get $p3)) (v128.const f32x4 -2.95459980854025e-03 -2.95459980854025e-03 -2.95459980854025e-03 -2.95459980854025e-03)))
        (local.set $p0 (f32x4.add (f32x4.mul (local.get $s0) (local.get $p0)) (v128.const f32x4 -1.60960333262415e-02 -1.60960333262415e-02 -1.60960333262415e-02 -1.60960333262415e-02)))
        (local.set $p1 (f32x4.add (f32x4.mul (local.get $s1) (local.get $p1)) (v128.const f32x4 -1.60960333262415e-02 -1.60960333262415e-02 -1.60960333262415e-02 -1.60960333262415e-02)))
        (local.set $p2 (f32x4.add (f32x4.mul (local.get $s2) (local.get $p2)) (v128.const f32x4 -1.60960333262415e-02 -1.60960333262415e-02 -1.60960333262415e-02 -1.60960333262415e-02)))
        (local.set $p3 (f32x4.add (f32x4.mul (local.get $s3) (local.get $p3)) (v128.const f32x4 -1.60960333262415e-02 -1.60960333262415e-02 -1.60960333262415e-02 -1.60960333262415e-02)))
        (local.set $p0 (f32x4.add (v128.const f32x4 0.5 0.5 0.5 0.5) (f32x4.mul (v128.const f32x4 0.5 0.5 0.5 0.5) (f32x4.div (f32x4.mul (local.get $z0) (local.get $p0)) (local.get $q0)))))
        (local.set $p1 (f32x4.add (v128.const f32x4 0.5 0.5 0.5 0.5) (f32x4.mul (v128.const f32x4 0.5 0.5 0.5 0.5) (f32x4.div (f32x4.mul (local.get $z1) (local.get $p1)) (local.get $q1)))))
        (local.set $p2 (f32x4.add (v128.const f32x4 0.5 0.5 0.5 0.5) (f32x4.mul (v128.const f32x4 0.5 0.5 0.5 0.5) (f32x4.div (f32x4.mul (local.get $z2) (local.get $p2)) (local.get $q2)))))
        (local.set $p3 (f32x4.add (v128.const f32x4 0.5 0.5 0.5 0.5) (f32x4.mul (v128.const f32x4 0.5 0.5 0.5 0.5) (f32x4.div (f32x4.mul (local.get $z3) (local.get $p3)) (local.get $q3)))))
        (v128.store offset=0 (local.get $cdf) (local.get $p0))
        (v128.store offset=16 (local.get $cdf) (local.get $p1))
        (v128.store offset=32 (local.get $cdf) (local.get $p2))
        (v128.store offset=48 (local.get $cdf) (local.get $p3))
        (v128.store offset=0 (local.get $y) (f32x4.mul (local.get $v0) (local.get $p0)))
        (v128.store offset=16 (local.get $y) (f32x4.mul (local.get $v1) (local.get $p1)))
        (v128.store offset=32 (local.get $y) (f32x4.mul (local.get $v2) (local.get $p2)))
        (v128.store offset=48 (local.get $y) (f32x4.mul (local.get $v3) (local.get $p3)))
        (local.set $x (i32.add (local.get $x) (i32.const 64)))
        (local.set $y (i32.add (local.get $y) (i32.const 64)))
        (local.set $cdf (i32.add (local.get $cdf) (i32.const 64)))
        (br $next16)))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $x) (local.get $end)))
        (local.set $v (v128.load (local.get $x)))
        (local.set $p (call $phi4 (local.get $v)))
        (v128.store (local.get $cdf) (local.get $p))
        (v128.store (local.get $y) (f32x4.mul (local.get $v) (local.get $p)))
        (local.set $x (i32.add (local.get $x) (i32.const 16)))
        (local.set $y (i32.add (local.get $y) (i32.const 16)))
        (local.set $cdf (i32.add (local.get $cdf) (i32.const 16)))
        (br $next))))

  ;; GELU gradient: dx = dy·(Φ(x) + x·φ(x)), φ(x) = e^(−x²/2)/√(2π). Sixteen floats per pass with $exp4 written
  ;; out four times and interleaved, as in "gelu" (1M elements, one thread: 3.4 → 1.5 ms); the rest through $exp4.
  (func (export "gelu_grad") (param $dy i32) (param $x i32) (param $cdf i32) (param $dx i32) (param $n i32)
    (local $end i32) (local $end16 i32) (local $v v128) (local $pdf v128)
    (local $v0 v128) (local $w0 v128) (local $t0 v128) (local $r0 v128) (local $p0 v128) (local $v1 v128) (local $w1 v128) (local $t1 v128) (local $r1 v128) (local $p1 v128) (local $v2 v128) (local $w2 v128) (local $t2 v128) (local $r2 v128) (local $p2 v128) (local $v3 v128) (local $w3 v128) (local $t3 v128) (local $r3 v128) (local $p3 v128)
    (local.set $end (i32.add (local.get $x) (i32.shl (local.get $n) (i32.const 2))))
    (local.set $end16 (i32.add (local.get $x) (i32.shl (i32.and (local.get $n) (i32.const -16)) (i32.const 2))))
    (block $done16
      (loop $next16
        (br_if $done16 (i32.ge_u (local.get $x) (local.get $end16)))
        (local.set $v0 (v128.load offset=0 (local.get $x)))
        (local.set $v1 (v128.load offset=16 (local.get $x)))
        (local.set $v2 (v128.load offset=32 (local.get $x)))
        (local.set $v3 (v128.load offset=48 (local.get $x)))
        ;; w = −x²/2 (≤ 0), clamped below as in $exp4
        (local.set $w0 (f32x4.pmax (f32x4.mul (f32x4.mul (local.get $v0) (local.get $v0)) (v128.const f32x4 -0.5 -0.5 -0.5 -0.5)) (v128.const f32x4 -87.3 -87.3 -87.3 -87.3)))
        (local.set $w1 (f32x4.pmax (f32x4.mul (f32x4.mul (local.get $v1) (local.get $v1)) (v128.const f32x4 -0.5 -0.5 -0.5 -0.5)) (v128.const f32x4 -87.3 -87.3 -87.3 -87.3)))
        (local.set $w2 (f32x4.pmax (f32x4.mul (f32x4.mul (local.get $v2) (local.get $v2)) (v128.const f32x4 -0.5 -0.5 -0.5 -0.5)) (v128.const f32x4 -87.3 -87.3 -87.3 -87.3)))
        (local.set $w3 (f32x4.pmax (f32x4.mul (f32x4.mul (local.get $v3) (local.get $v3)) (v128.const f32x4 -0.5 -0.5 -0.5 -0.5)) (v128.const f32x4 -87.3 -87.3 -87.3 -87.3)))
        (local.set $t0 (f32x4.add (f32x4.mul (local.get $w0) (v128.const f32x4 1.44269504 1.44269504 1.44269504 1.44269504)) (v128.const f32x4 12583039 12583039 12583039 12583039)))
        (local.set $t1 (f32x4.add (f32x4.mul (local.get $w1) (v128.const f32x4 1.44269504 1.44269504 1.44269504 1.44269504)) (v128.const f32x4 12583039 12583039 12583039 12583039)))
        (local.set $t2 (f32x4.add (f32x4.mul (local.get $w2) (v128.const f32x4 1.44269504 1.44269504 1.44269504 1.44269504)) (v128.const f32x4 12583039 12583039 12583039 12583039)))
        (local.set $t3 (f32x4.add (f32x4.mul (local.get $w3) (v128.const f32x4 1.44269504 1.44269504 1.44269504 1.44269504)) (v128.const f32x4 12583039 12583039 12583039 12583039)))
        (local.set $r0 (f32x4.sub (local.get $t0) (v128.const f32x4 12583039 12583039 12583039 12583039)))
        (local.set $r1 (f32x4.sub (local.get $t1) (v128.const f32x4 12583039 12583039 12583039 12583039)))
        (local.set $r2 (f32x4.sub (local.get $t2) (v128.const f32x4 12583039 12583039 12583039 12583039)))
        (local.set $r3 (f32x4.sub (local.get $t3) (v128.const f32x4 12583039 12583039 12583039 12583039)))
        (local.set $r0 (f32x4.sub (f32x4.sub (local.get $w0) (f32x4.mul (local.get $r0) (v128.const f32x4 0.693359375 0.693359375 0.693359375 0.693359375))) (f32x4.mul (local.get $r0) (v128.const f32x4 -2.12194440e-4 -2.12194440e-4 -2.12194440e-4 -2.12194440e-4))))
        (local.set $r1 (f32x4.sub (f32x4.sub (local.get $w1) (f32x4.mul (local.get $r1) (v128.const f32x4 0.693359375 0.693359375 0.693359375 0.693359375))) (f32x4.mul (local.get $r1) (v128.const f32x4 -2.12194440e-4 -2.12194440e-4 -2.12194440e-4 -2.12194440e-4))))
        (local.set $r2 (f32x4.sub (f32x4.sub (local.get $w2) (f32x4.mul (local.get $r2) (v128.const f32x4 0.693359375 0.693359375 0.693359375 0.693359375))) (f32x4.mul (local.get $r2) (v128.const f32x4 -2.12194440e-4 -2.12194440e-4 -2.12194440e-4 -2.12194440e-4))))
        (local.set $r3 (f32x4.sub (f32x4.sub (local.get $w3) (f32x4.mul (local.get $r3) (v128.const f32x4 0.693359375 0.693359375 0.693359375 0.693359375))) (f32x4.mul (local.get $r3) (v128.const f32x4 -2.12194440e-4 -2.12194440e-4 -2.12194440e-4 -2.12194440e-4))))
        (local.set $p0 (f32x4.add (f32x4.mul (v128.const f32x4 1.9875691500e-4 1.9875691500e-4 1.9875691500e-4 1.9875691500e-4) (local.get $r0)) (v128.const f32x4 1.3981999507e-3 1.3981999507e-3 1.3981999507e-3 1.3981999507e-3)))
        (local.set $p1 (f32x4.add (f32x4.mul (v128.const f32x4 1.9875691500e-4 1.9875691500e-4 1.9875691500e-4 1.9875691500e-4) (local.get $r1)) (v128.const f32x4 1.3981999507e-3 1.3981999507e-3 1.3981999507e-3 1.3981999507e-3)))
        (local.set $p2 (f32x4.add (f32x4.mul (v128.const f32x4 1.9875691500e-4 1.9875691500e-4 1.9875691500e-4 1.9875691500e-4) (local.get $r2)) (v128.const f32x4 1.3981999507e-3 1.3981999507e-3 1.3981999507e-3 1.3981999507e-3)))
        (local.set $p3 (f32x4.add (f32x4.mul (v128.const f32x4 1.9875691500e-4 1.9875691500e-4 1.9875691500e-4 1.9875691500e-4) (local.get $r3)) (v128.const f32x4 1.3981999507e-3 1.3981999507e-3 1.3981999507e-3 1.3981999507e-3)))
        (local.set $p0 (f32x4.add (f32x4.mul (local.get $p0) (local.get $r0)) (v128.const f32x4 8.3334519073e-3 8.3334519073e-3 8.3334519073e-3 8.3334519073e-3)))
        (local.set $p1 (f32x4.add (f32x4.mul (local.get $p1) (local.get $r1)) (v128.const f32x4 8.3334519073e-3 8.3334519073e-3 8.3334519073e-3 8.3334519073e-3)))
        (local.set $p2 (f32x4.add (f32x4.mul (local.get $p2) (local.get $r2)) (v128.const f32x4 8.3334519073e-3 8.3334519073e-3 8.3334519073e-3 8.3334519073e-3)))
        (local.set $p3 (f32x4.add (f32x4.mul (local.get $p3) (local.get $r3)) (v128.const f32x4 8.3334519073e-3 8.3334519073e-3 8.3334519073e-3 8.3334519073e-3)))
        (local.set $p0 (f32x4.add (f32x4.mul (local.get $p0) (local.get $r0)) (v128.const f32x4 4.1665795894e-2 4.1665795894e-2 4.1665795894e-2 4.1665795894e-2)))
        (local.set $p1 (f32x4.add (f32x4.mul (local.get $p1) (local.get $r1)) (v128.const f32x4 4.1665795894e-2 4.1665795894e-2 4.1665795894e-2 4.1665795894e-2)))
        (local.set $p2 (f32x4.add (f32x4.mul (local.get $p2) (local.get $r2)) (v128.const f32x4 4.1665795894e-2 4.1665795894e-2 4.1665795894e-2 4.1665795894e-2)))
        (local.set $p3 (f32x4.add (f32x4.mul (local.get $p3) (local.get $r3)) (v128.const f32x4 4.1665795894e-2 4.1665795894e-2 4.1665795894e-2 4.1665795894e-2)))
        (local.set $p0 (f32x4.add (f32x4.mul (local.get $p0) (local.get $r0)) (v128.const f32x4 1.6666665459e-1 1.6666665459e-1 1.6666665459e-1 1.6666665459e-1)))
        (local.set $p1 (f32x4.add (f32x4.mul (local.get $p1) (local.get $r1)) (v128.const f32x4 1.6666665459e-1 1.6666665459e-1 1.6666665459e-1 1.6666665459e-1)))
        (local.set $p2 (f32x4.add (f32x4.mul (local.get $p2) (local.get $r2)) (v128.const f32x4 1.6666665459e-1 1.6666665459e-1 1.6666665459e-1 1.6666665459e-1)))
        (local.set $p3 (f32x4.add (f32x4.mul (local.get $p3) (local.get $r3)) (v128.const f32x4 1.6666665459e-1 1.6666665459e-1 1.6666665459e-1 1.6666665459e-1)))
        (local.set $p0 (f32x4.add (f32x4.mul (local.get $p0) (local.get $r0)) (v128.const f32x4 5.0000001201e-1 5.0000001201e-1 5.0000001201e-1 5.0000001201e-1)))
        (local.set $p1 (f32x4.add (f32x4.mul (local.get $p1) (local.get $r1)) (v128.const f32x4 5.0000001201e-1 5.0000001201e-1 5.0000001201e-1 5.0000001201e-1)))
        (local.set $p2 (f32x4.add (f32x4.mul (local.get $p2) (local.get $r2)) (v128.const f32x4 5.0000001201e-1 5.0000001201e-1 5.0000001201e-1 5.0000001201e-1)))
        (local.set $p3 (f32x4.add (f32x4.mul (local.get $p3) (local.get $r3)) (v128.const f32x4 5.0000001201e-1 5.0000001201e-1 5.0000001201e-1 5.0000001201e-1)))
        (local.set $p0 (f32x4.add (f32x4.add (f32x4.mul (local.get $p0) (f32x4.mul (local.get $r0) (local.get $r0))) (local.get $r0)) (v128.const f32x4 1 1 1 1)))
        (local.set $p1 (f32x4.add (f32x4.add (f32x4.mul (local.get $p1) (f32x4.mul (local.get $r1) (local.get $r1))) (local.get $r1)) (v128.const f32x4 1 1 1 1)))
        (local.set $p2 (f32x4.add (f32x4.add (f32x4.mul (local.get $p2) (f32x4.mul (local.get $r2) (local.get $r2))) (local.get $r2)) (v128.const f32x4 1 1 1 1)))
        (local.set $p3 (f32x4.add (f32x4.add (f32x4.mul (local.get $p3) (f32x4.mul (local.get $r3) (local.get $r3))) (local.get $r3)) (v128.const f32x4 1 1 1 1)))
        ;; pdf = e^w·2ⁿ/√(2π); dx = dy·(Φ + x·pdf)
        (local.set $p0 (f32x4.mul (f32x4.mul (local.get $p0) (i32x4.shl (local.get $t0) (i32.const 23))) (v128.const f32x4 0.39894228 0.39894228 0.39894228 0.39894228)))
        (local.set $p1 (f32x4.mul (f32x4.mul (local.get $p1) (i32x4.shl (local.get $t1) (i32.const 23))) (v128.const f32x4 0.39894228 0.39894228 0.39894228 0.39894228)))
        (local.set $p2 (f32x4.mul (f32x4.mul (local.get $p2) (i32x4.shl (local.get $t2) (i32.const 23))) (v128.const f32x4 0.39894228 0.39894228 0.39894228 0.39894228)))
        (local.set $p3 (f32x4.mul (f32x4.mul (local.get $p3) (i32x4.shl (local.get $t3) (i32.const 23))) (v128.const f32x4 0.39894228 0.39894228 0.39894228 0.39894228)))
        (v128.store offset=0 (local.get $dx) (f32x4.mul (v128.load offset=0 (local.get $dy)) (f32x4.add (v128.load offset=0 (local.get $cdf)) (f32x4.mul (local.get $v0) (local.get $p0)))))
        (v128.store offset=16 (local.get $dx) (f32x4.mul (v128.load offset=16 (local.get $dy)) (f32x4.add (v128.load offset=16 (local.get $cdf)) (f32x4.mul (local.get $v1) (local.get $p1)))))
        (v128.store offset=32 (local.get $dx) (f32x4.mul (v128.load offset=32 (local.get $dy)) (f32x4.add (v128.load offset=32 (local.get $cdf)) (f32x4.mul (local.get $v2) (local.get $p2)))))
        (v128.store offset=48 (local.get $dx) (f32x4.mul (v128.load offset=48 (local.get $dy)) (f32x4.add (v128.load offset=48 (local.get $cdf)) (f32x4.mul (local.get $v3) (local.get $p3)))))
        (local.set $x (i32.add (local.get $x) (i32.const 64)))
        (local.set $dy (i32.add (local.get $dy) (i32.const 64)))
        (local.set $cdf (i32.add (local.get $cdf) (i32.const 64)))
        (local.set $dx (i32.add (local.get $dx) (i32.const 64)))
        (br $next16)))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $x) (local.get $end)))
        (local.set $v (v128.load (local.get $x)))
        (local.set $pdf
          (f32x4.mul
            (call $exp4 (f32x4.mul (f32x4.mul (local.get $v) (local.get $v)) (v128.const f32x4 -0.5 -0.5 -0.5 -0.5)))
            (v128.const f32x4 0.39894228 0.39894228 0.39894228 0.39894228)))
        (v128.store (local.get $dx)
          (f32x4.mul
            (v128.load (local.get $dy))
            (f32x4.add (v128.load (local.get $cdf)) (f32x4.mul (local.get $v) (local.get $pdf)))))
        (local.set $x (i32.add (local.get $x) (i32.const 16)))
        (local.set $dy (i32.add (local.get $dy) (i32.const 16)))
        (local.set $cdf (i32.add (local.get $cdf) (i32.const 16)))
        (local.set $dx (i32.add (local.get $dx) (i32.const 16)))
        (br $next))))

  ;; ---------------------------------------------------------------------------------------------------------
  ;; Layer normalisation over rows of h floats (h a multiple of 4)

  ;; y = (x − μ)·r·γ + β per row, r = 1/√(var + eps); writes μ and r per row for the backward pass.
  (func (export "layernorm") (param $x i32) (param $gamma i32) (param $beta i32) (param $y i32)
    (param $mean i32) (param $rstd i32) (param $rows i32) (param $h i32) (param $eps f32)
    (local $hb i32) (local $j i32) (local $acc v128) (local $d v128) (local $m f32) (local $r f32)
    (local $mv v128) (local $rv v128) (local $invh f32)
    (local.set $hb (i32.shl (local.get $h) (i32.const 2)))
    (local.set $invh (f32.div (f32.const 1) (f32.convert_i32_u (local.get $h))))
    (block $rows_done
      (loop $row
        (br_if $rows_done (i32.eqz (local.get $rows)))
        ;; mean
        (local.set $acc (v128.const f32x4 0 0 0 0))
        (local.set $j (i32.const 0))
        (loop $sum
          (local.set $acc (f32x4.add (local.get $acc) (v128.load (i32.add (local.get $x) (local.get $j)))))
          (local.set $j (i32.add (local.get $j) (i32.const 16)))
          (br_if $sum (i32.lt_u (local.get $j) (local.get $hb))))
        (local.set $m (f32.mul (call $hsum (local.get $acc)) (local.get $invh)))
        (local.set $mv (f32x4.splat (local.get $m)))
        ;; variance of the centred values
        (local.set $acc (v128.const f32x4 0 0 0 0))
        (local.set $j (i32.const 0))
        (loop $var
          (local.set $d (f32x4.sub (v128.load (i32.add (local.get $x) (local.get $j))) (local.get $mv)))
          (local.set $acc (f32x4.add (local.get $acc) (f32x4.mul (local.get $d) (local.get $d))))
          (local.set $j (i32.add (local.get $j) (i32.const 16)))
          (br_if $var (i32.lt_u (local.get $j) (local.get $hb))))
        (local.set $r
          (f32.div (f32.const 1)
            (f32.sqrt (f32.add (f32.mul (call $hsum (local.get $acc)) (local.get $invh)) (local.get $eps)))))
        (local.set $rv (f32x4.splat (local.get $r)))
        (local.set $j (i32.const 0))
        (loop $out
          (v128.store (i32.add (local.get $y) (local.get $j))
            (f32x4.add
              (f32x4.mul
                (f32x4.mul (f32x4.sub (v128.load (i32.add (local.get $x) (local.get $j))) (local.get $mv)) (local.get $rv))
                (v128.load (i32.add (local.get $gamma) (local.get $j))))
              (v128.load (i32.add (local.get $beta) (local.get $j)))))
          (local.set $j (i32.add (local.get $j) (i32.const 16)))
          (br_if $out (i32.lt_u (local.get $j) (local.get $hb))))
        (f32.store (local.get $mean) (local.get $m))
        (f32.store (local.get $rstd) (local.get $r))
        (local.set $x (i32.add (local.get $x) (local.get $hb)))
        (local.set $y (i32.add (local.get $y) (local.get $hb)))
        (local.set $mean (i32.add (local.get $mean) (i32.const 4)))
        (local.set $rstd (i32.add (local.get $rstd) (i32.const 4)))
        (local.set $rows (i32.sub (local.get $rows) (i32.const 1)))
        (br $row))))

  ;; With x̂ = (x − μ)·r and g = dy·γ per row: dx = r·(g − mean(g) − x̂·mean(g·x̂)); dγ = Σ_rows dy·x̂, dβ = Σ_rows dy.
  (func (export "layernorm_grad") (param $dy i32) (param $x i32) (param $gamma i32) (param $mean i32) (param $rstd i32)
    (param $dx i32) (param $dgamma i32) (param $dbeta i32) (param $rows i32) (param $h i32)
    (local $hb i32) (local $j i32) (local $mv v128) (local $rv v128) (local $xh v128) (local $dyv v128) (local $g v128)
    (local $sg v128) (local $sgx v128) (local $a v128) (local $c v128) (local $invh f32)
    (local.set $hb (i32.shl (local.get $h) (i32.const 2)))
    (local.set $invh (f32.div (f32.const 1) (f32.convert_i32_u (local.get $h))))
    (call $zero_bytes (local.get $dgamma) (local.get $hb))
    (call $zero_bytes (local.get $dbeta) (local.get $hb))
    (block $rows_done
      (loop $row
        (br_if $rows_done (i32.eqz (local.get $rows)))
        (local.set $mv (f32x4.splat (f32.load (local.get $mean))))
        (local.set $rv (f32x4.splat (f32.load (local.get $rstd))))
        (local.set $sg (v128.const f32x4 0 0 0 0))
        (local.set $sgx (v128.const f32x4 0 0 0 0))
        (local.set $j (i32.const 0))
        (loop $first
          (local.set $xh (f32x4.mul (f32x4.sub (v128.load (i32.add (local.get $x) (local.get $j))) (local.get $mv)) (local.get $rv)))
          (local.set $dyv (v128.load (i32.add (local.get $dy) (local.get $j))))
          (local.set $g (f32x4.mul (local.get $dyv) (v128.load (i32.add (local.get $gamma) (local.get $j)))))
          (local.set $sg (f32x4.add (local.get $sg) (local.get $g)))
          (local.set $sgx (f32x4.add (local.get $sgx) (f32x4.mul (local.get $g) (local.get $xh))))
          (v128.store (i32.add (local.get $dgamma) (local.get $j))
            (f32x4.add (v128.load (i32.add (local.get $dgamma) (local.get $j))) (f32x4.mul (local.get $dyv) (local.get $xh))))
          (v128.store (i32.add (local.get $dbeta) (local.get $j))
            (f32x4.add (v128.load (i32.add (local.get $dbeta) (local.get $j))) (local.get $dyv)))
          (local.set $j (i32.add (local.get $j) (i32.const 16)))
          (br_if $first (i32.lt_u (local.get $j) (local.get $hb))))
        (local.set $a (f32x4.splat (f32.mul (call $hsum (local.get $sg)) (local.get $invh))))
        (local.set $c (f32x4.splat (f32.mul (call $hsum (local.get $sgx)) (local.get $invh))))
        (local.set $j (i32.const 0))
        (loop $second
          (local.set $xh (f32x4.mul (f32x4.sub (v128.load (i32.add (local.get $x) (local.get $j))) (local.get $mv)) (local.get $rv)))
          (local.set $g
            (f32x4.mul (v128.load (i32.add (local.get $dy) (local.get $j))) (v128.load (i32.add (local.get $gamma) (local.get $j)))))
          (v128.store (i32.add (local.get $dx) (local.get $j))
            (f32x4.mul
              (local.get $rv)
              (f32x4.sub (f32x4.sub (local.get $g) (local.get $a)) (f32x4.mul (local.get $xh) (local.get $c)))))
          (local.set $j (i32.add (local.get $j) (i32.const 16)))
          (br_if $second (i32.lt_u (local.get $j) (local.get $hb))))
        (local.set $x (i32.add (local.get $x) (local.get $hb)))
        (local.set $dy (i32.add (local.get $dy) (local.get $hb)))
        (local.set $dx (i32.add (local.get $dx) (local.get $hb)))
        (local.set $mean (i32.add (local.get $mean) (i32.const 4)))
        (local.set $rstd (i32.add (local.get $rstd) (i32.const 4)))
        (local.set $rows (i32.sub (local.get $rows) (i32.const 1)))
        (br $row))))

  ;; ---------------------------------------------------------------------------------------------------------
  ;; Data movement (any shape; 32-bit elements)

  ;; 4×4 block: src rows i…i+3 at columns j…j+3 (row stride ss bytes) → dst rows j…j+3 at columns i…i+3 (stride ds).
  (func $block4 (param $s i32) (param $d i32) (param $ss i32) (param $ds i32)
    (local $a0 v128) (local $a1 v128) (local $a2 v128) (local $a3 v128)
    (local $t0 v128) (local $t1 v128) (local $t2 v128) (local $t3 v128)
    (local.set $a0 (v128.load (local.get $s)))
    (local.set $a1 (v128.load (i32.add (local.get $s) (local.get $ss))))
    (local.set $a2 (v128.load (i32.add (local.get $s) (i32.shl (local.get $ss) (i32.const 1)))))
    (local.set $a3 (v128.load (i32.add (local.get $s) (i32.mul (local.get $ss) (i32.const 3)))))
    (local.set $t0 (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23 (local.get $a0) (local.get $a1)))
    (local.set $t1 (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31 (local.get $a0) (local.get $a1)))
    (local.set $t2 (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23 (local.get $a2) (local.get $a3)))
    (local.set $t3 (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31 (local.get $a2) (local.get $a3)))
    (v128.store (local.get $d)
      (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $t0) (local.get $t2)))
    (v128.store (i32.add (local.get $d) (local.get $ds))
      (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $t0) (local.get $t2)))
    (v128.store (i32.add (local.get $d) (i32.shl (local.get $ds) (i32.const 1)))
      (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $t1) (local.get $t3)))
    (v128.store (i32.add (local.get $d) (i32.mul (local.get $ds) (i32.const 3)))
      (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $t1) (local.get $t3))))

  ;; dst[b, c, r] = src[b, r, c] for `batch` matrices of rows × cols.
  (func (export "transpose") (param $src i32) (param $dst i32) (param $batch i32) (param $rows i32) (param $cols i32)
    (local $ss i32) (local $ds i32) (local $mat i32) (local $r4 i32) (local $c4 i32) (local $i i32) (local $j i32) (local $k i32)
    (local.set $ss (i32.shl (local.get $cols) (i32.const 2)))
    (local.set $ds (i32.shl (local.get $rows) (i32.const 2)))
    (local.set $mat (i32.mul (local.get $ss) (local.get $rows)))
    (local.set $r4 (i32.and (local.get $rows) (i32.const -4)))
    (local.set $c4 (i32.and (local.get $cols) (i32.const -4)))
    (block $batches_done
      (loop $matrix
        (br_if $batches_done (i32.eqz (local.get $batch)))
        ;; full 4-row bands: 4×4 blocks, then the columns past the last full block
        (local.set $i (i32.const 0))
        (block $bands_done
          (loop $band
            (br_if $bands_done (i32.ge_u (local.get $i) (local.get $r4)))
            (local.set $j (i32.const 0))
            (block $blocks_done
              (loop $block
                (br_if $blocks_done (i32.ge_u (local.get $j) (local.get $c4)))
                (call $block4
                  (i32.add (local.get $src) (i32.shl (i32.add (i32.mul (local.get $i) (local.get $cols)) (local.get $j)) (i32.const 2)))
                  (i32.add (local.get $dst) (i32.shl (i32.add (i32.mul (local.get $j) (local.get $rows)) (local.get $i)) (i32.const 2)))
                  (local.get $ss) (local.get $ds))
                (local.set $j (i32.add (local.get $j) (i32.const 4)))
                (br $block)))
            (block $tail_done
              (loop $tail
                (br_if $tail_done (i32.ge_u (local.get $j) (local.get $cols)))
                (local.set $k (i32.const 0))
                (loop $lane
                  (i32.store
                    (i32.add (local.get $dst)
                      (i32.shl (i32.add (i32.mul (local.get $j) (local.get $rows)) (i32.add (local.get $i) (local.get $k))) (i32.const 2)))
                    (i32.load
                      (i32.add (local.get $src)
                        (i32.shl (i32.add (i32.mul (i32.add (local.get $i) (local.get $k)) (local.get $cols)) (local.get $j)) (i32.const 2)))))
                  (local.set $k (i32.add (local.get $k) (i32.const 1)))
                  (br_if $lane (i32.lt_u (local.get $k) (i32.const 4))))
                (local.set $j (i32.add (local.get $j) (i32.const 1)))
                (br $tail)))
            (local.set $i (i32.add (local.get $i) (i32.const 4)))
            (br $band)))
        ;; the rows past the last full band
        (block $rest_done
          (loop $rest
            (br_if $rest_done (i32.ge_u (local.get $i) (local.get $rows)))
            (local.set $j (i32.const 0))
            (block $cols_done
              (loop $col
                (br_if $cols_done (i32.ge_u (local.get $j) (local.get $cols)))
                (i32.store
                  (i32.add (local.get $dst) (i32.shl (i32.add (i32.mul (local.get $j) (local.get $rows)) (local.get $i)) (i32.const 2)))
                  (i32.load
                    (i32.add (local.get $src) (i32.shl (i32.add (i32.mul (local.get $i) (local.get $cols)) (local.get $j)) (i32.const 2)))))
                (local.set $j (i32.add (local.get $j) (i32.const 1)))
                (br $col)))
            (local.set $i (i32.add (local.get $i) (i32.const 1)))
            (br $rest)))
        (local.set $src (i32.add (local.get $src) (local.get $mat)))
        (local.set $dst (i32.add (local.get $dst) (local.get $mat)))
        (local.set $batch (i32.sub (local.get $batch) (i32.const 1)))
        (br $matrix))))

  ;; dst[b, a, :] = src[a, b, :] for src [A, B, n]: runs of n elements.
  (func (export "swap_leading") (param $src i32) (param $dst i32) (param $A i32) (param $B i32) (param $n i32)
    (local $run i32) (local $a i32) (local $b i32)
    (local.set $run (i32.shl (local.get $n) (i32.const 2)))
    (block $a_done
      (loop $over_a
        (br_if $a_done (i32.ge_u (local.get $a) (local.get $A)))
        (local.set $b (i32.const 0))
        (block $b_done
          (loop $over_b
            (br_if $b_done (i32.ge_u (local.get $b) (local.get $B)))
            (call $copy_bytes
              (i32.add (local.get $dst) (i32.mul (i32.add (i32.mul (local.get $b) (local.get $A)) (local.get $a)) (local.get $run)))
              (local.get $src)
              (local.get $run))
            (local.set $src (i32.add (local.get $src) (local.get $run)))
            (local.set $b (i32.add (local.get $b) (i32.const 1)))
            (br $over_b)))
        (local.set $a (i32.add (local.get $a) (i32.const 1)))
        (br $over_a))))
  ;; dst + r·dstStride ← src + r·srcStride, `run` bytes, for r < rows (slices, splits, concatenations, stacks).
  (func (export "copy_rows") (param $src i32) (param $srcStride i32) (param $dst i32) (param $dstStride i32)
    (param $rows i32) (param $run i32)
    (block $done
      (loop $row
        (br_if $done (i32.eqz (local.get $rows)))
        (call $copy_bytes (local.get $dst) (local.get $src) (local.get $run))
        (local.set $src (i32.add (local.get $src) (local.get $srcStride)))
        (local.set $dst (i32.add (local.get $dst) (local.get $dstStride)))
        (local.set $rows (i32.sub (local.get $rows) (i32.const 1)))
        (br $row))))

  ;; im2col of one channel group of x [B, T, C] for a 1-D convolution with K taps and `before` zeros of padding
  ;; before the sequence (and as many after as reach past its end): dst [B·T, K·Cg] whose row b·T + t holds, for
  ;; k = 0 … K−1, channels g·Cg … g·Cg + Cg − 1 of x[b, t + k − before] (zeros outside 0 … T−1).
  (func (export "im2col") (param $x i32) (param $dst i32) (param $B i32) (param $T i32) (param $C i32)
    (param $g i32) (param $Cg i32) (param $K i32) (param $before i32)
    (local $run i32) (local $b i32) (local $t i32) (local $k i32) (local $s i32) (local $src i32) (local $j i32)
    (local $vectors i32)
    (local.set $run (i32.shl (local.get $Cg) (i32.const 2)))
    (local.set $vectors (i32.eqz (i32.and (local.get $run) (i32.const 15))))
    (local.set $x (i32.add (local.get $x) (i32.mul (local.get $g) (local.get $run))))
    (block $b_done
      (loop $over_b
        (br_if $b_done (i32.ge_u (local.get $b) (local.get $B)))
        (local.set $t (i32.const 0))
        (block $t_done
          (loop $over_t
            (br_if $t_done (i32.ge_u (local.get $t) (local.get $T)))
            (local.set $k (i32.const 0))
            (loop $over_k
              (local.set $s (i32.sub (i32.add (local.get $t) (local.get $k)) (local.get $before)))
              (if (i32.lt_u (local.get $s) (local.get $T)) ;; unsigned: also false for s < 0
                (then
                  (local.set $src
                    (i32.add (local.get $x)
                      (i32.shl (i32.mul (i32.add (i32.mul (local.get $b) (local.get $T)) (local.get $s)) (local.get $C)) (i32.const 2))))
                  (if (local.get $vectors)
                    (then
                      (local.set $j (i32.const 0))
                      (loop $copy
                        (v128.store (i32.add (local.get $dst) (local.get $j)) (v128.load (i32.add (local.get $src) (local.get $j))))
                        (local.set $j (i32.add (local.get $j) (i32.const 16)))
                        (br_if $copy (i32.lt_u (local.get $j) (local.get $run)))))
                    (else (call $copy_bytes (local.get $dst) (local.get $src) (local.get $run)))))
                (else (call $zero_bytes (local.get $dst) (local.get $run))))
              (local.set $dst (i32.add (local.get $dst) (local.get $run)))
              (local.set $k (i32.add (local.get $k) (i32.const 1)))
              (br_if $over_k (i32.lt_u (local.get $k) (local.get $K))))
            (local.set $t (i32.add (local.get $t) (i32.const 1)))
            (br $over_t)))
        (local.set $b (i32.add (local.get $b) (i32.const 1)))
        (br $over_b))))
  ;; dst[j] = Σ_r src[r, j] for src [rows, cols] (cols a multiple of 4): four rows per pass over the accumulator.
  (func (export "sum_rows") (param $src i32) (param $dst i32) (param $rows i32) (param $cols i32)
    (local $cb i32) (local $j i32) (local $r4 i32) (local $r i32) (local $p i32)
    (local.set $cb (i32.shl (local.get $cols) (i32.const 2)))
    (call $zero_bytes (local.get $dst) (local.get $cb))
    (local.set $r4 (i32.and (local.get $rows) (i32.const -4)))
    (block $quads_done
      (loop $quad
        (br_if $quads_done (i32.ge_u (local.get $r) (local.get $r4)))
        (local.set $p (i32.add (local.get $src) (i32.mul (local.get $r) (local.get $cb))))
        (local.set $j (i32.const 0))
        (block $cols_done
          (loop $col
            (br_if $cols_done (i32.ge_u (local.get $j) (local.get $cb)))
            (v128.store (i32.add (local.get $dst) (local.get $j))
              (f32x4.add
                (v128.load (i32.add (local.get $dst) (local.get $j)))
                (f32x4.add
                  (f32x4.add
                    (v128.load (i32.add (local.get $p) (local.get $j)))
                    (v128.load (i32.add (i32.add (local.get $p) (local.get $cb)) (local.get $j))))
                  (f32x4.add
                    (v128.load (i32.add (i32.add (local.get $p) (i32.shl (local.get $cb) (i32.const 1))) (local.get $j)))
                    (v128.load (i32.add (i32.add (local.get $p) (i32.mul (local.get $cb) (i32.const 3))) (local.get $j)))))))
            (local.set $j (i32.add (local.get $j) (i32.const 16)))
            (br $col)))
        (local.set $r (i32.add (local.get $r) (i32.const 4)))
        (br $quad)))
    (block $rest_done
      (loop $rest
        (br_if $rest_done (i32.ge_u (local.get $r) (local.get $rows)))
        (local.set $p (i32.add (local.get $src) (i32.mul (local.get $r) (local.get $cb))))
        (local.set $j (i32.const 0))
        (block $cols_done
          (loop $col
            (br_if $cols_done (i32.ge_u (local.get $j) (local.get $cb)))
            (v128.store (i32.add (local.get $dst) (local.get $j))
              (f32x4.add (v128.load (i32.add (local.get $dst) (local.get $j))) (v128.load (i32.add (local.get $p) (local.get $j)))))
            (local.set $j (i32.add (local.get $j) (i32.const 16)))
            (br $col)))
        (local.set $r (i32.add (local.get $r) (i32.const 1)))
        (br $rest))))

  ;; One AdamW step over n weights (n a multiple of 4), written to new buffers:
  ;;   g' = s·g;  m' = β1·m + (1−β1)·g';  v' = β2·v + (1−β2)·g'²;  w' = w − η·(m'/c1 / (√(v'/c2) + ε) + λ·w)
  ;; with s the gradient scale (clipping), c1 and c2 the bias corrections (1 when off), λ the weight decay.
  (func (export "adamw") (param $w i32) (param $g i32) (param $m i32) (param $v i32)
    (param $w2 i32) (param $m2 i32) (param $v2 i32) (param $n i32)
    (param $lr f32) (param $beta1 f32) (param $beta2 f32) (param $eps f32) (param $c1 f32) (param $c2 f32)
    (param $decay f32) (param $scale f32)
    (local $end i32) (local $gv v128) (local $mv v128) (local $vv v128) (local $wv v128)
    (local $b1 v128) (local $nb1 v128) (local $b2 v128) (local $nb2 v128) (local $ic1 v128) (local $ic2 v128)
    (local $ep v128) (local $lam v128) (local $eta v128) (local $s v128)
    (local.set $b1 (f32x4.splat (local.get $beta1)))
    (local.set $nb1 (f32x4.splat (f32.sub (f32.const 1) (local.get $beta1))))
    (local.set $b2 (f32x4.splat (local.get $beta2)))
    (local.set $nb2 (f32x4.splat (f32.sub (f32.const 1) (local.get $beta2))))
    (local.set $ic1 (f32x4.splat (f32.div (f32.const 1) (local.get $c1))))
    (local.set $ic2 (f32x4.splat (f32.div (f32.const 1) (local.get $c2))))
    (local.set $ep (f32x4.splat (local.get $eps)))
    (local.set $lam (f32x4.splat (local.get $decay)))
    (local.set $eta (f32x4.splat (local.get $lr)))
    (local.set $s (f32x4.splat (local.get $scale)))
    (local.set $end (i32.add (local.get $w) (i32.shl (local.get $n) (i32.const 2))))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $w) (local.get $end)))
        (local.set $gv (f32x4.mul (v128.load (local.get $g)) (local.get $s)))
        (local.set $mv (f32x4.add (f32x4.mul (v128.load (local.get $m)) (local.get $b1)) (f32x4.mul (local.get $gv) (local.get $nb1))))
        (local.set $vv
          (f32x4.add
            (f32x4.mul (v128.load (local.get $v)) (local.get $b2))
            (f32x4.mul (f32x4.mul (local.get $gv) (local.get $gv)) (local.get $nb2))))
        (local.set $wv (v128.load (local.get $w)))
        (v128.store (local.get $m2) (local.get $mv))
        (v128.store (local.get $v2) (local.get $vv))
        (v128.store (local.get $w2)
          (f32x4.sub
            (local.get $wv)
            (f32x4.mul
              (local.get $eta)
              (f32x4.add
                (f32x4.div
                  (f32x4.mul (local.get $mv) (local.get $ic1))
                  (f32x4.add (f32x4.sqrt (f32x4.mul (local.get $vv) (local.get $ic2))) (local.get $ep)))
                (f32x4.mul (local.get $lam) (local.get $wv))))))
        (local.set $w (i32.add (local.get $w) (i32.const 16)))
        (local.set $g (i32.add (local.get $g) (i32.const 16)))
        (local.set $m (i32.add (local.get $m) (i32.const 16)))
        (local.set $v (i32.add (local.get $v) (i32.const 16)))
        (local.set $w2 (i32.add (local.get $w2) (i32.const 16)))
        (local.set $m2 (i32.add (local.get $m2) (i32.const 16)))
        (local.set $v2 (i32.add (local.get $v2) (i32.const 16)))
        (br $next))))
)
