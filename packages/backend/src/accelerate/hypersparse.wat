;; WebAssembly SIMD versions of HyperSparse's loop kernel in penalty-kernels.ts, run over the tfjs wasm backend's own
;; memory (imported), on tensors addressed by byte offset. Compiled by tools/scripts/compile-wat.mjs into
;; hypersparse.wasm.ts; edit this file, then run `npm run compile-wat`. u = e^(−2s|w|) throughout.
(module
  (import "env" "memory" (memory 1)) ;; MEMORY

;; Σ|w| and Σ tanh(s|w|) over all of HyperSparse's weights, added up across hyperSparsePass calls
  ;; (f64 lanes); hyperSparseScale turns them into c and resets them.
  (global $sumA (mut v128) (v128.const i64x2 0 0))
  (global $sumT (mut v128) (v128.const i64x2 0 0))

  ;; For w[0..n): adds Σ|w| and Σ tanh(s|w|) = Σ (1 − u)/(1 + u) to the running sums, and stores
  ;; h = sign(w)·sech²(s|w|) = sign(w)·4u/(1 + u)² at $hOut (+0 where w = ±0 or sech² underflows): the
  ;; gradient up to the scalar α·c, so the backward pass is one multiply. Vectors in blocks of 1024 values
  ;; summed in f32 lanes, each block's sums added in f64 (promoting every vector to f64 is slower). The
  ;; last n mod 4 values take the same loop body as a vector zero-padded (|0| and tanh 0
  ;; add exactly 0), loaded and stored lane by lane.
  ;;
  ;; u = 2^z, z = −2s·log₂e·|w| ≤ 0, inline (V8 does not inline wasm calls, and a call per vector slows
  ;; the pass). z = k + f with k an integer and |f| ≤ 1/2; 2^f = 1 + f·q(f), q of degree 4 fitted
  ;; at Chebyshev nodes (relative error ≤ 3e-7, and exactly 1 at f = 0 so that tanh of tiny weights has
  ;; no bias), evaluated as Estrin's scheme; 2^k added to its exponent bits. z < −125 gives 0. k is
  ;; rounded by adding 1.5·2²³ (t), so that t's low mantissa bits hold k as an integer: no f32x4.nearest
  ;; or float-to-int conversion, which V8 lowers to several instructions each on x64. Against Cephes
  ;; expf (range reduction by ln 2 in two parts, Horner degree 6), this shortens the longest dependency
  ;; chain of a vector by about half, and h stays within 2e-7·(1 + 2s|w|). The speed-ups that decided
  ;; these choices are in docs/performance.md.
  (func (export "hyperSparsePass") (param $w i32) (param $n i32) (param $s f32) (param $hOut i32)
    (local $whole i32) (local $end i32) (local $blockEnd i32) (local $v v128) (local $m v128) (local $z v128)
    (local $t v128) (local $f v128) (local $f2 v128) (local $p v128) (local $u v128) (local $d v128) (local $h v128)
    (local $fa v128) (local $ft v128) (local $zs v128) (local $one v128)
    (local.set $zs (f32x4.splat (f32.demote_f64 (f64.mul (f64.promote_f32 (local.get $s)) (f64.const -2.8853900817779268)))))
    (local.set $one (v128.const f32x4 1 1 1 1))
    (local.set $whole (i32.add (local.get $w) (i32.shl (i32.and (local.get $n) (i32.const -4)) (i32.const 2))))
    (local.set $end (i32.add (local.get $w) (i32.shl (local.get $n) (i32.const 2))))
    (block $done
      (loop $block
        (br_if $done (i32.ge_u (local.get $w) (local.get $end)))
        (local.set $blockEnd (select (local.get $end) (i32.add (local.get $w) (i32.const 4096))
          (i32.lt_u (i32.sub (local.get $end) (local.get $w)) (i32.const 4096))))
        (local.set $fa (v128.const i32x4 0 0 0 0))
        (local.set $ft (v128.const i32x4 0 0 0 0))
        (loop $next
          ;; no calls in this loop, not even on the tail's path: V8 then spills the vector locals on
          ;; every iteration
          (if (i32.lt_u (local.get $w) (local.get $whole))
            (then (local.set $v (v128.load (local.get $w))))
            (else
              (local.set $v (f32x4.replace_lane 0 (v128.const f32x4 0 0 0 0) (f32.load (local.get $w))))
              (if (i32.gt_u (i32.sub (local.get $end) (local.get $w)) (i32.const 4))
                (then (local.set $v (f32x4.replace_lane 1 (local.get $v) (f32.load offset=4 (local.get $w))))))
              (if (i32.gt_u (i32.sub (local.get $end) (local.get $w)) (i32.const 8))
                (then (local.set $v (f32x4.replace_lane 2 (local.get $v) (f32.load offset=8 (local.get $w))))))))
          (local.set $m (f32x4.abs (local.get $v)))
          (local.set $z (f32x4.mul (local.get $m) (local.get $zs)))
          (local.set $t (f32x4.add (local.get $z) (v128.const f32x4 12582912 12582912 12582912 12582912)))
          (local.set $f (f32x4.sub (local.get $z) (f32x4.sub (local.get $t) (v128.const f32x4 12582912 12582912 12582912 12582912))))
          (local.set $f2 (f32x4.mul (local.get $f) (local.get $f)))
          (local.set $p (f32x4.add (local.get $one) (f32x4.mul (local.get $f) (f32x4.add
            (f32x4.add (f32x4.mul (local.get $f) (v128.const f32x4 0.2402234972 0.2402234972 0.2402234972 0.2402234972)) (v128.const f32x4 0.6931471825 0.6931471825 0.6931471825 0.6931471825))
            (f32x4.mul (local.get $f2) (f32x4.add
              (f32x4.add (f32x4.mul (local.get $f) (v128.const f32x4 0.009666368365 0.009666368365 0.009666368365 0.009666368365)) (v128.const f32x4 0.05550381169 0.05550381169 0.05550381169 0.05550381169))
              (f32x4.mul (local.get $f2) (v128.const f32x4 0.001338130212 0.001338130212 0.001338130212 0.001338130212))))))))
          ;; u = p·2^k: k added to p's exponent bits, k = bits(t) − bits(1.5·2²³); masked to 0 below 2^−125
          (local.set $u (v128.and
            (i32x4.add (local.get $p) (i32x4.shl (i32x4.sub (local.get $t) (v128.const i32x4 0x4B400000 0x4B400000 0x4B400000 0x4B400000)) (i32.const 23)))
            (f32x4.ge (local.get $z) (v128.const f32x4 -125 -125 -125 -125))))
          (local.set $d (f32x4.add (local.get $one) (local.get $u)))
          (local.set $fa (f32x4.add (local.get $fa) (local.get $m)))
          (local.set $ft (f32x4.add (local.get $ft) (f32x4.div (f32x4.sub (local.get $one) (local.get $u)) (local.get $d))))
          ;; h: sech² with w's sign bit; masked to +0 where w = ±0, then + 0 turns an underflowed −0 into +0
          (local.set $h (f32x4.div (f32x4.mul (local.get $u) (v128.const f32x4 4 4 4 4)) (f32x4.mul (local.get $d) (local.get $d))))
          (local.set $h (f32x4.add (v128.const i32x4 0 0 0 0)
            (v128.and (v128.xor (local.get $h) (v128.and (local.get $v) (v128.const i32x4 0x80000000 0x80000000 0x80000000 0x80000000)))
                      (f32x4.ne (local.get $v) (v128.const i32x4 0 0 0 0)))))
          (if (i32.lt_u (local.get $w) (local.get $whole))
            (then (v128.store (local.get $hOut) (local.get $h)))
            (else
              (f32.store (local.get $hOut) (f32x4.extract_lane 0 (local.get $h)))
              (if (i32.gt_u (i32.sub (local.get $end) (local.get $w)) (i32.const 4))
                (then (f32.store offset=4 (local.get $hOut) (f32x4.extract_lane 1 (local.get $h)))))
              (if (i32.gt_u (i32.sub (local.get $end) (local.get $w)) (i32.const 8))
                (then (f32.store offset=8 (local.get $hOut) (f32x4.extract_lane 2 (local.get $h)))))))
          (local.set $hOut (i32.add (local.get $hOut) (i32.const 16)))
          (local.set $w (i32.add (local.get $w) (i32.const 16)))
          (br_if $next (i32.lt_u (local.get $w) (local.get $blockEnd))))
        (global.set $sumA (f64x2.add (global.get $sumA) (call $widenSum (local.get $fa))))
        (global.set $sumT (f64x2.add (global.get $sumT) (call $widenSum (local.get $ft))))
        (br $block))))

  ;; *$cOut = c = s·A/T from the sums of the hyperSparsePass calls since the last call (in f64, stored as
  ;; f32), *$scaleOut = α·c (f32, as tfjs multiplies the two scalars), and the sums back to 0.
  (func (export "hyperSparseScale") (param $s f32) (param $alpha f32) (param $cOut i32) (param $scaleOut i32)
    (local $c f32)
    (local.set $c (f32.demote_f64 (f64.div
      (f64.mul (f64.promote_f32 (local.get $s)) (f64.add (f64x2.extract_lane 0 (global.get $sumA)) (f64x2.extract_lane 1 (global.get $sumA))))
      (f64.add (f64x2.extract_lane 0 (global.get $sumT)) (f64x2.extract_lane 1 (global.get $sumT))))))
    (f32.store (local.get $cOut) (local.get $c))
    (f32.store (local.get $scaleOut) (f32.mul (local.get $alpha) (local.get $c)))
    (global.set $sumA (v128.const i64x2 0 0))
    (global.set $sumT (v128.const i64x2 0 0)))

  ;; x[0..n) ← x·s, each product rounded to f32 as a tfjs Mul rounds it, s read from $ps (written by an
  ;; earlier call of the same job): HyperSparse's h scaled by α·c.
  (func (export "scaleInPlace") (param $x i32) (param $n i32) (param $ps i32)
    (local $end i32) (local $whole i32) (local $s f32) (local $vs v128)
    (local.set $s (f32.load (local.get $ps)))
    (local.set $vs (f32x4.splat (local.get $s)))
    (local.set $end (i32.add (local.get $x) (i32.shl (local.get $n) (i32.const 2))))
    (local.set $whole (i32.add (local.get $x) (i32.shl (i32.and (local.get $n) (i32.const -4)) (i32.const 2))))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $x) (local.get $whole)))
        (v128.store (local.get $x) (f32x4.mul (v128.load (local.get $x)) (local.get $vs)))
        (local.set $x (i32.add (local.get $x) (i32.const 16)))
        (br $next)))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $x) (local.get $end)))
        (f32.store (local.get $x) (f32.mul (f32.load (local.get $x)) (local.get $s)))
        (local.set $x (i32.add (local.get $x) (i32.const 4)))
        (br $next))))

  ;; The four f32 lanes as two f64 pairs, added: [v0 + v2, v1 + v3].
  (func $widenSum (param $v v128) (result v128)
    (f64x2.add (f64x2.promote_low_f32x4 (local.get $v))
               (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 8 9 10 11 12 13 14 15 (local.get $v) (local.get $v)))))
)
