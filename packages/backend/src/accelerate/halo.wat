;; WebAssembly SIMD versions of HALO's loop kernels in penalty-kernels.ts, run over the tfjs wasm backend's own
;; memory (imported), on tensors addressed by byte offset. Compiled by tools/scripts/compile-wat.mjs into
;; halo.wasm.ts; edit this file, then run `npm run compile-wat`. r = 1/(λ² + m²) throughout.
(module
  (import "env" "memory" (memory 1)) ;; MEMORY

  ;; *$outW = Σ|w|·r, *$outL = Σ|λ| over n weights and their λ's (f32 within blocks of 1024, f64 across them).
  (func (export "haloSums") (param $w i32) (param $l i32) (param $n i32) (param $m2 f32) (param $outW i32) (param $outL i32)
    (local $end i32) (local $blockEnd i32) (local $vm2 v128) (local $vl v128) (local $fa v128) (local $fb v128)
    (local $a v128) (local $b v128) (local $s f64) (local $u f64) (local $f f32)
    (local.set $vm2 (f32x4.splat (local.get $m2)))
    (local.set $end (i32.add (local.get $w) (i32.shl (i32.and (local.get $n) (i32.const -4)) (i32.const 2))))
    ;; whole vectors in blocks of 1024 values summed in f32 lanes, each block's sums added in f64
    (block $done
      (loop $block
        (br_if $done (i32.ge_u (local.get $w) (local.get $end)))
        (local.set $blockEnd (select (local.get $end) (i32.add (local.get $w) (i32.const 4096))
          (i32.lt_u (i32.sub (local.get $end) (local.get $w)) (i32.const 4096))))
        (local.set $fa (v128.const i32x4 0 0 0 0))
        (local.set $fb (v128.const i32x4 0 0 0 0))
        (loop $next
          (local.set $vl (v128.load (local.get $l)))
          (local.set $fa (f32x4.add (local.get $fa) (f32x4.div (f32x4.abs (v128.load (local.get $w)))
                                   (f32x4.add (f32x4.mul (local.get $vl) (local.get $vl)) (local.get $vm2)))))
          (local.set $fb (f32x4.add (local.get $fb) (f32x4.abs (local.get $vl))))
          (local.set $w (i32.add (local.get $w) (i32.const 16)))
          (local.set $l (i32.add (local.get $l) (i32.const 16)))
          (br_if $next (i32.lt_u (local.get $w) (local.get $blockEnd))))
        (local.set $a (f64x2.add (local.get $a) (call $widenSum (local.get $fa))))
        (local.set $b (f64x2.add (local.get $b) (call $widenSum (local.get $fb))))
        (br $block)))
    (local.set $s (f64.add (f64x2.extract_lane 0 (local.get $a)) (f64x2.extract_lane 1 (local.get $a))))
    (local.set $u (f64.add (f64x2.extract_lane 0 (local.get $b)) (f64x2.extract_lane 1 (local.get $b))))
    (local.set $end (i32.add (local.get $end) (i32.shl (i32.and (local.get $n) (i32.const 3)) (i32.const 2))))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $w) (local.get $end)))
        (local.set $f (f32.load (local.get $l)))
        (local.set $s (f64.add (local.get $s) (f64.promote_f32
          (f32.div (f32.abs (f32.load (local.get $w))) (f32.add (f32.mul (local.get $f) (local.get $f)) (local.get $m2))))))
        (local.set $u (f64.add (local.get $u) (f64.promote_f32 (f32.abs (local.get $f)))))
        (local.set $w (i32.add (local.get $w) (i32.const 4)))
        (local.set $l (i32.add (local.get $l) (i32.const 4)))
        (br $next)))
    (f32.store (local.get $outW) (f32.demote_f64 (local.get $s)))
    (f32.store (local.get $outL) (f32.demote_f64 (local.get $u))))

  ;; The four f32 lanes as two f64 pairs, added: [v0 + v2, v1 + v3].
  (func $widenSum (param $v v128) (result v128)
    (f64x2.add (f64x2.promote_low_f32x4 (local.get $v))
               (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 8 9 10 11 12 13 14 15 (local.get $v) (local.get $v)))))

  ;; dw = g·r·sign(w), dλ = −2·g·|w|·λ·r² + h·sign(λ); +0 where w, λ are 0.
  (func (export "haloGradients") (param $w i32) (param $l i32) (param $n i32) (param $m2 f32) (param $g f32) (param $h f32)
        (param $dw i32) (param $dl i32)
    (local $end i32) (local $vm2 v128) (local $vg v128) (local $vh v128)
    (local $vw v128) (local $vl v128) (local $r v128) (local $gr v128) (local $signBits v128) (local $zero v128)
    (local $fw f32) (local $fl f32) (local $fr f32) (local $fgr f32)
    (local.set $vm2 (f32x4.splat (local.get $m2)))
    (local.set $vg (f32x4.splat (local.get $g)))
    (local.set $vh (f32x4.splat (local.get $h)))
    (local.set $signBits (v128.const i32x4 0x80000000 0x80000000 0x80000000 0x80000000))
    (local.set $end (i32.add (local.get $w) (i32.shl (i32.and (local.get $n) (i32.const -4)) (i32.const 2))))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $w) (local.get $end)))
        (local.set $vw (v128.load (local.get $w)))
        (local.set $vl (v128.load (local.get $l)))
        (local.set $r (f32x4.div (v128.const f32x4 1 1 1 1)
                                 (f32x4.add (f32x4.mul (local.get $vl) (local.get $vl)) (local.get $vm2))))
        (local.set $gr (f32x4.mul (local.get $vg) (local.get $r)))
        ;; g·r·sign(w): g·r with its sign flipped where w < 0, +0 where w = ±0
        (v128.store (local.get $dw) (f32x4.add (local.get $zero)
          (v128.and (v128.xor (local.get $gr) (v128.and (local.get $vw) (local.get $signBits)))
                    (f32x4.ne (local.get $vw) (local.get $zero)))))
        (v128.store (local.get $dl) (f32x4.add (local.get $zero) (f32x4.add
          (f32x4.mul (f32x4.mul (f32x4.mul (local.get $gr) (local.get $r)) (f32x4.abs (local.get $vw)))
                     (f32x4.mul (local.get $vl) (v128.const f32x4 -2 -2 -2 -2)))
          (v128.and (v128.xor (local.get $vh) (v128.and (local.get $vl) (local.get $signBits)))
                    (f32x4.ne (local.get $vl) (local.get $zero))))))
        (local.set $w (i32.add (local.get $w) (i32.const 16)))
        (local.set $l (i32.add (local.get $l) (i32.const 16)))
        (local.set $dw (i32.add (local.get $dw) (i32.const 16)))
        (local.set $dl (i32.add (local.get $dl) (i32.const 16)))
        (br $next)))
    (local.set $end (i32.add (local.get $end) (i32.shl (i32.and (local.get $n) (i32.const 3)) (i32.const 2))))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $w) (local.get $end)))
        (local.set $fw (f32.load (local.get $w)))
        (local.set $fl (f32.load (local.get $l)))
        (local.set $fr (f32.div (f32.const 1) (f32.add (f32.mul (local.get $fl) (local.get $fl)) (local.get $m2))))
        (local.set $fgr (f32.mul (local.get $g) (local.get $fr)))
        (f32.store (local.get $dw) (f32.add (f32.const 0)
          (select (f32.reinterpret_i32 (i32.xor (i32.reinterpret_f32 (local.get $fgr))
                                                (i32.and (i32.reinterpret_f32 (local.get $fw)) (i32.const 0x80000000))))
                  (f32.const 0) (f32.ne (local.get $fw) (f32.const 0)))))
        (f32.store (local.get $dl) (f32.add (f32.const 0) (f32.add
          (f32.mul (f32.mul (f32.mul (local.get $fgr) (local.get $fr)) (f32.abs (local.get $fw)))
                   (f32.mul (local.get $fl) (f32.const -2)))
          (select (f32.reinterpret_i32 (i32.xor (i32.reinterpret_f32 (local.get $h))
                                                (i32.and (i32.reinterpret_f32 (local.get $fl)) (i32.const 0x80000000))))
                  (f32.const 0) (f32.ne (local.get $fl) (f32.const 0))))))
        (local.set $w (i32.add (local.get $w) (i32.const 4)))
        (local.set $l (i32.add (local.get $l) (i32.const 4)))
        (local.set $dw (i32.add (local.get $dw) (i32.const 4)))
        (local.set $dl (i32.add (local.get $dl) (i32.const 4)))
        (br $next))))
)
