;; WebAssembly SIMD versions of the loop kernels in passes.ts, run over the tfjs wasm backend's own
;; memory (imported), on tensors addressed by byte offset. Compiled by tools/scripts/compile-wat.mjs into
;; passes.wasm.ts (one variant per memory kind); edit this file, then run `npm run compile-wat`.
;; Sums run in f32 lanes over blocks of 1024 values, added in f64 across blocks (the JS loops sum in f64);
;; elementwise results are f32. A zero input gives +0.
(module
  (import "env" "memory" (memory 1)) ;; MEMORY

  ;; Σ of both lanes of an f64x2.
  (func $hsum64 (param $v v128) (result f64)
    (f64.add (f64x2.extract_lane 0 (local.get $v)) (f64x2.extract_lane 1 (local.get $v))))

  ;; a·sign(x) for one f32: a with its sign flipped where x < 0, +0 where x = ±0.
  (func $scaledSign1 (param $a f32) (param $x f32) (result f32)
    (select
      (f32.reinterpret_i32 (i32.xor (i32.reinterpret_f32 (local.get $a))
                                    (i32.and (i32.reinterpret_f32 (local.get $x)) (i32.const 0x80000000))))
      (f32.const 0)
      (f32.ne (local.get $x) (f32.const 0))))

  ;; *$outA = Σ|x|, *$outQ = Σx² over x[0..n). Whole vectors in blocks of 1024 values summed in f32
  ;; lanes, each block's sums added in f64 (promoting every vector to f64 is slower); then the
  ;; last n mod 4 values in f64. momentumUpdate sums its output the same way, block by block.
  (func (export "absAndSquareSums") (param $x i32) (param $n i32) (param $outA i32) (param $outQ i32)
    (local $end i32) (local $blockEnd i32)
    (local.set $end (i32.add (local.get $x) (i32.shl (i32.and (local.get $n) (i32.const -4)) (i32.const 2))))
    (global.set $sumA (v128.const i64x2 0 0))
    (global.set $sumQ (v128.const i64x2 0 0))
    (block $done
      (loop $block
        (br_if $done (i32.ge_u (local.get $x) (local.get $end)))
        (local.set $blockEnd (call $blockEnd (local.get $x) (local.get $end)))
        (call $blockSums (local.get $x) (local.get $blockEnd))
        (local.set $x (local.get $blockEnd))
        (br $block)))
    (call $finishSums (local.get $x) (i32.add (local.get $end) (i32.shl (i32.and (local.get $n) (i32.const 3)) (i32.const 2)))
      (local.get $outA) (local.get $outQ)))

  ;; Running f64x2 sums of |x| and x² for absAndSquareSums and momentumUpdate.
  (global $sumA (mut v128) (v128.const i64x2 0 0))
  (global $sumQ (mut v128) (v128.const i64x2 0 0))

  ;; Adds Σ|x| and Σx² over the whole vectors in [x, end) (one block) to $sumA and $sumQ: f32 lanes,
  ;; widened to f64 at the end of the block.
  (func $blockSums (param $x i32) (param $end i32)
    (local $v v128) (local $fa v128) (local $fq v128)
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $x) (local.get $end)))
        (local.set $v (v128.load (local.get $x)))
        (local.set $fa (f32x4.add (local.get $fa) (f32x4.abs (local.get $v))))
        (local.set $fq (f32x4.add (local.get $fq) (f32x4.mul (local.get $v) (local.get $v))))
        (local.set $x (i32.add (local.get $x) (i32.const 16)))
        (br $next)))
    (global.set $sumA (f64x2.add (global.get $sumA) (call $widenSum (local.get $fa))))
    (global.set $sumQ (f64x2.add (global.get $sumQ) (call $widenSum (local.get $fq)))))

  ;; The sums so far plus the values in [x, end) one at a time in f64, stored as f32 at $outA, $outQ.
  (func $finishSums (param $x i32) (param $end i32) (param $outA i32) (param $outQ i32)
    (local $s f64) (local $t f64) (local $w f64)
    (local.set $s (call $hsum64 (global.get $sumA)))
    (local.set $t (call $hsum64 (global.get $sumQ)))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $x) (local.get $end)))
        (local.set $w (f64.promote_f32 (f32.load (local.get $x))))
        (local.set $s (f64.add (local.get $s) (f64.abs (local.get $w))))
        (local.set $t (f64.add (local.get $t) (f64.mul (local.get $w) (local.get $w))))
        (local.set $x (i32.add (local.get $x) (i32.const 4)))
        (br $next)))
    (f32.store (local.get $outA) (f32.demote_f64 (local.get $s)))
    (f32.store (local.get $outQ) (f32.demote_f64 (local.get $t))))

  ;; The end of the block of whole vectors that starts at $x: 4096 bytes on, or $end.
  (func $blockEnd (param $x i32) (param $end i32) (result i32)
    (select (local.get $end) (i32.add (local.get $x) (i32.const 4096))
      (i32.lt_u (i32.sub (local.get $end) (local.get $x)) (i32.const 4096))))

  ;; The four f32 lanes as two f64 pairs, added: [v0 + v2, v1 + v3].
  (func $widenSum (param $v v128) (result v128)
    (f64x2.add (f64x2.promote_low_f32x4 (local.get $v))
               (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 8 9 10 11 12 13 14 15 (local.get $v) (local.get $v)))))

  ;; out = c·(a·sign(x) + b·x) over x[0..n), a, b and c read from the scalars at $pa, $pb and $pc.
  (func (export "signLinear") (param $x i32) (param $n i32) (param $pa i32) (param $pb i32) (param $pc i32) (param $out i32)
    (local $a f32) (local $b f32) (local $end i32) (local $va v128) (local $vb v128) (local $v v128) (local $f f32)
    (local $signBits v128)
    (local.set $signBits (v128.const i32x4 0x80000000 0x80000000 0x80000000 0x80000000))
    (local.set $a (f32.mul (f32.load (local.get $pc)) (f32.load (local.get $pa))))
    (local.set $b (f32.mul (f32.load (local.get $pc)) (f32.load (local.get $pb))))
    (local.set $va (f32x4.splat (local.get $a)))
    (local.set $vb (f32x4.splat (local.get $b)))
    (local.set $end (i32.add (local.get $x) (i32.shl (i32.and (local.get $n) (i32.const -4)) (i32.const 2))))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $x) (local.get $end)))
        (local.set $v (v128.load (local.get $x)))
        (v128.store (local.get $out)
          (f32x4.add
            (f32x4.add
              (v128.and ;; a·sign(v), inline: V8 does not inline wasm calls here
                (v128.xor (local.get $va) (v128.and (local.get $v) (local.get $signBits)))
                (f32x4.ne (local.get $v) (v128.const f32x4 0 0 0 0)))
              (f32x4.mul (local.get $vb) (local.get $v)))
            (v128.const f32x4 0 0 0 0)))
        (local.set $x (i32.add (local.get $x) (i32.const 16)))
        (local.set $out (i32.add (local.get $out) (i32.const 16)))
        (br $next)))
    (local.set $end (i32.add (local.get $end) (i32.shl (i32.and (local.get $n) (i32.const 3)) (i32.const 2))))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $x) (local.get $end)))
        (local.set $f (f32.load (local.get $x)))
        (f32.store (local.get $out)
          (f32.add (f32.add (call $scaledSign1 (local.get $a) (local.get $f)) (f32.mul (local.get $b) (local.get $f))) (f32.const 0)))
        (local.set $x (i32.add (local.get $x) (i32.const 4)))
        (local.set $out (i32.add (local.get $out) (i32.const 4)))
        (br $next))))

  ;; For x laid out [K, I, O]: rows[i] = Σ_{k,o} x², cols[o] = Σ_{k,i} x² (f32 sums).
  (func (export "groupSquareSums") (param $x i32) (param $K i32) (param $I i32) (param $O i32) (param $rows i32) (param $cols i32)
    (local $k i32) (local $i i32) (local $o i32) (local $O4 i32) (local $row v128) (local $sq v128) (local $c i32)
    (local $r f32) (local $f f32)
    (memory.fill (local.get $rows) (i32.const 0) (i32.shl (local.get $I) (i32.const 2)))
    (memory.fill (local.get $cols) (i32.const 0) (i32.shl (local.get $O) (i32.const 2)))
    (local.set $O4 (i32.and (local.get $O) (i32.const -4)))
    (local.set $k (i32.const 0))
    (block $kdone (loop $knext
      (br_if $kdone (i32.ge_u (local.get $k) (local.get $K)))
      (local.set $i (i32.const 0))
      (block $idone (loop $inext
        (br_if $idone (i32.ge_u (local.get $i) (local.get $I)))
        (local.set $row (v128.const f32x4 0 0 0 0))
        (local.set $c (local.get $cols))
        (local.set $o (i32.const 0))
        (block $odone (loop $onext
          (br_if $odone (i32.ge_u (local.get $o) (local.get $O4)))
          (local.set $sq (f32x4.mul (v128.load (local.get $x)) (v128.load (local.get $x))))
          (local.set $row (f32x4.add (local.get $row) (local.get $sq)))
          (v128.store (local.get $c) (f32x4.add (v128.load (local.get $c)) (local.get $sq)))
          (local.set $x (i32.add (local.get $x) (i32.const 16)))
          (local.set $c (i32.add (local.get $c) (i32.const 16)))
          (local.set $o (i32.add (local.get $o) (i32.const 4)))
          (br $onext)))
        (local.set $r (f32.add
          (f32.add (f32x4.extract_lane 0 (local.get $row)) (f32x4.extract_lane 1 (local.get $row)))
          (f32.add (f32x4.extract_lane 2 (local.get $row)) (f32x4.extract_lane 3 (local.get $row)))))
        (block $tdone (loop $tnext
          (br_if $tdone (i32.ge_u (local.get $o) (local.get $O)))
          (local.set $f (f32.load (local.get $x)))
          (local.set $f (f32.mul (local.get $f) (local.get $f)))
          (local.set $r (f32.add (local.get $r) (local.get $f)))
          (f32.store (local.get $c) (f32.add (f32.load (local.get $c)) (local.get $f)))
          (local.set $x (i32.add (local.get $x) (i32.const 4)))
          (local.set $c (i32.add (local.get $c) (i32.const 4)))
          (local.set $o (i32.add (local.get $o) (i32.const 1)))
          (br $tnext)))
        (f32.store (i32.add (local.get $rows) (i32.shl (local.get $i) (i32.const 2)))
          (f32.add (f32.load (i32.add (local.get $rows) (i32.shl (local.get $i) (i32.const 2)))) (local.get $r)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $inext)))
      (local.set $k (i32.add (local.get $k) (i32.const 1)))
      (br $knext))))

  ;; For x laid out [K, I, O]: out = x·(rows[i] + cols[o]).
  (func (export "groupScale") (param $x i32) (param $K i32) (param $I i32) (param $O i32) (param $rows i32) (param $cols i32) (param $out i32)
    (local $k i32) (local $i i32) (local $o i32) (local $O4 i32) (local $row v128) (local $c i32) (local $r f32)
    (local.set $O4 (i32.and (local.get $O) (i32.const -4)))
    (local.set $k (i32.const 0))
    (block $kdone (loop $knext
      (br_if $kdone (i32.ge_u (local.get $k) (local.get $K)))
      (local.set $i (i32.const 0))
      (block $idone (loop $inext
        (br_if $idone (i32.ge_u (local.get $i) (local.get $I)))
        (local.set $r (f32.load (i32.add (local.get $rows) (i32.shl (local.get $i) (i32.const 2)))))
        (local.set $row (f32x4.splat (local.get $r)))
        (local.set $c (local.get $cols))
        (local.set $o (i32.const 0))
        (block $odone (loop $onext
          (br_if $odone (i32.ge_u (local.get $o) (local.get $O4)))
          (v128.store (local.get $out)
            (f32x4.add
              (f32x4.mul (v128.load (local.get $x)) (f32x4.add (local.get $row) (v128.load (local.get $c))))
              (v128.const f32x4 0 0 0 0)))
          (local.set $x (i32.add (local.get $x) (i32.const 16)))
          (local.set $out (i32.add (local.get $out) (i32.const 16)))
          (local.set $c (i32.add (local.get $c) (i32.const 16)))
          (local.set $o (i32.add (local.get $o) (i32.const 4)))
          (br $onext)))
        (block $tdone (loop $tnext
          (br_if $tdone (i32.ge_u (local.get $o) (local.get $O)))
          (f32.store (local.get $out)
            (f32.add (f32.mul (f32.load (local.get $x)) (f32.add (local.get $r) (f32.load (local.get $c)))) (f32.const 0)))
          (local.set $x (i32.add (local.get $x) (i32.const 4)))
          (local.set $out (i32.add (local.get $out) (i32.const 4)))
          (local.set $c (i32.add (local.get $c) (i32.const 4)))
          (local.set $o (i32.add (local.get $o) (i32.const 1)))
          (br $tnext)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $inext)))
      (local.set $k (i32.add (local.get $k) (i32.const 1)))
      (br $knext))))
;; hist[(key >>> shift) & mask] += 1 for each key = |x| bits (sign cleared) of x[0..n) with
  ;; key >>> prefixShift = prefix (prefixShift 31: every key). A pass of the radix select for the k-th
  ;; smallest magnitude: vectors without a matching key are skipped four at a time.
  (func (export "magnitudeHistogram") (param $x i32) (param $n i32) (param $hist i32) (param $shift i32) (param $mask i32)
        (param $prefixShift i32) (param $prefix i32)
    (local $end i32) (local $keys v128) (local $match v128) (local $vprefix v128) (local $key i32) (local $at i32)
    (local.set $vprefix (i32x4.splat (local.get $prefix)))
    (local.set $end (i32.add (local.get $x) (i32.shl (i32.and (local.get $n) (i32.const -4)) (i32.const 2))))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $x) (local.get $end)))
        (local.set $keys (v128.and (v128.load (local.get $x)) (v128.const i32x4 0x7fffffff 0x7fffffff 0x7fffffff 0x7fffffff)))
        (local.set $match (i32x4.eq (i32x4.shr_u (local.get $keys) (local.get $prefixShift)) (local.get $vprefix)))
        (if (v128.any_true (local.get $match))
          (then
            (if (i32x4.extract_lane 0 (local.get $match)) (then (block (local.set $at (i32.add (local.get $hist) (i32.shl (i32.and (i32.shr_u (i32x4.extract_lane 0 (local.get $keys)) (local.get $shift)) (local.get $mask)) (i32.const 2)))) (i32.store (local.get $at) (i32.add (i32.load (local.get $at)) (i32.const 1))))))
            (if (i32x4.extract_lane 1 (local.get $match)) (then (block (local.set $at (i32.add (local.get $hist) (i32.shl (i32.and (i32.shr_u (i32x4.extract_lane 1 (local.get $keys)) (local.get $shift)) (local.get $mask)) (i32.const 2)))) (i32.store (local.get $at) (i32.add (i32.load (local.get $at)) (i32.const 1))))))
            (if (i32x4.extract_lane 2 (local.get $match)) (then (block (local.set $at (i32.add (local.get $hist) (i32.shl (i32.and (i32.shr_u (i32x4.extract_lane 2 (local.get $keys)) (local.get $shift)) (local.get $mask)) (i32.const 2)))) (i32.store (local.get $at) (i32.add (i32.load (local.get $at)) (i32.const 1))))))
            (if (i32x4.extract_lane 3 (local.get $match)) (then (block (local.set $at (i32.add (local.get $hist) (i32.shl (i32.and (i32.shr_u (i32x4.extract_lane 3 (local.get $keys)) (local.get $shift)) (local.get $mask)) (i32.const 2)))) (i32.store (local.get $at) (i32.add (i32.load (local.get $at)) (i32.const 1))))))))
        (local.set $x (i32.add (local.get $x) (i32.const 16)))
        (br $next)))
    (local.set $end (i32.add (local.get $end) (i32.shl (i32.and (local.get $n) (i32.const 3)) (i32.const 2))))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $x) (local.get $end)))
        (local.set $key (i32.and (i32.load (local.get $x)) (i32.const 0x7fffffff)))
        (if (i32.eq (i32.shr_u (local.get $key) (local.get $prefixShift)) (local.get $prefix))
          (then (block (local.set $at (i32.add (local.get $hist) (i32.shl (i32.and (i32.shr_u (local.get $key) (local.get $shift)) (local.get $mask)) (i32.const 2)))) (i32.store (local.get $at) (i32.add (i32.load (local.get $at)) (i32.const 1))))))
        (local.set $x (i32.add (local.get $x) (i32.const 4)))
        (br $next))))
;; out[j] += #{key < bound j} (j = 0..3, bounds ≥ 0 in lanes of $bounds) over the magnitude keys of
  ;; x[0..n): with a hint, this pure-SIMD pass replaces the radix select's first histogram pass (or the
  ;; first two), where every key is counted into a histogram.
  (func (export "magnitudeCountBelow") (param $x i32) (param $n i32) (param $b0 i32) (param $b1 i32) (param $b2 i32) (param $b3 i32) (param $out i32)
    (local $end i32) (local $key v128) (local $c0 v128) (local $c1 v128) (local $c2 v128) (local $c3 v128)
    (local $v0 v128) (local $v1 v128) (local $v2 v128) (local $v3 v128) (local $bounds v128) (local $tail v128)
    (local.set $v0 (i32x4.splat (local.get $b0)))
    (local.set $v1 (i32x4.splat (local.get $b1)))
    (local.set $v2 (i32x4.splat (local.get $b2)))
    (local.set $v3 (i32x4.splat (local.get $b3)))
    (local.set $end (i32.add (local.get $x) (i32.shl (i32.and (local.get $n) (i32.const -4)) (i32.const 2))))
    ;; a true lane is −1: subtracting the comparison masks counts
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $x) (local.get $end)))
        (local.set $key (v128.and (v128.load (local.get $x)) (v128.const i32x4 0x7fffffff 0x7fffffff 0x7fffffff 0x7fffffff)))
        (local.set $c0 (i32x4.sub (local.get $c0) (i32x4.lt_s (local.get $key) (local.get $v0))))
        (local.set $c1 (i32x4.sub (local.get $c1) (i32x4.lt_s (local.get $key) (local.get $v1))))
        (local.set $c2 (i32x4.sub (local.get $c2) (i32x4.lt_s (local.get $key) (local.get $v2))))
        (local.set $c3 (i32x4.sub (local.get $c3) (i32x4.lt_s (local.get $key) (local.get $v3))))
        (local.set $x (i32.add (local.get $x) (i32.const 16)))
        (br $next)))
    ;; the tail: each key against the four bounds at once, lane j counting into $tail
    (local.set $bounds (i32x4.replace_lane 3 (i32x4.replace_lane 2 (i32x4.replace_lane 1 (local.get $v0)
      (local.get $b1)) (local.get $b2)) (local.get $b3)))
    (local.set $end (i32.add (local.get $end) (i32.shl (i32.and (local.get $n) (i32.const 3)) (i32.const 2))))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $x) (local.get $end)))
        (local.set $key (i32x4.splat (i32.and (i32.load (local.get $x)) (i32.const 0x7fffffff))))
        (local.set $tail (i32x4.sub (local.get $tail) (i32x4.lt_s (local.get $key) (local.get $bounds))))
        (local.set $x (i32.add (local.get $x) (i32.const 4)))
        (br $next)))
    (local.set $tail (i32x4.add (local.get $tail) (v128.load (local.get $out))))
    (i32.store (local.get $out) (i32.add (i32x4.extract_lane 0 (local.get $tail)) (call $hsum32 (local.get $c0))))
    (i32.store offset=4 (local.get $out) (i32.add (i32x4.extract_lane 1 (local.get $tail)) (call $hsum32 (local.get $c1))))
    (i32.store offset=8 (local.get $out) (i32.add (i32x4.extract_lane 2 (local.get $tail)) (call $hsum32 (local.get $c2))))
    (i32.store offset=12 (local.get $out) (i32.add (i32x4.extract_lane 3 (local.get $tail)) (call $hsum32 (local.get $c3)))))

  ;; Σ of the four i32 lanes.
  (func $hsum32 (param $v v128) (result i32)
    (i32.add (i32.add (i32x4.extract_lane 0 (local.get $v)) (i32x4.extract_lane 1 (local.get $v)))
             (i32.add (i32x4.extract_lane 2 (local.get $v)) (i32x4.extract_lane 3 (local.get $v)))))
;; tfjs's MomentumOptimizer step for one variable, fused: acc' = m·acc + g, then
  ;; value' = c·acc' + value, or with Nesterov value' = c·(g + m·acc') + value (c = −learning rate),
  ;; each product and sum rounded to f32 as the separate tfjs ops round them. m and c are read from $pm, $pc.
  ;; g = grad + grad2 (where $grad2 is not 0: a gradient in two parts, added as a tfjs Add would), then
  ;; + value·decay where $decay is not 0 (coupled weight decay, a tfjs Mul then Add).
  ;; Where $sums is not 0, [Σ|value'|, Σvalue'²] are stored there, computed exactly as absAndSquareSums
  ;; computes them, each block summed right after it is written (still in cache); where $band is not 0,
  ;; the magnitude band of value' is collected there ($magnitudeBand).
  (func (export "momentumUpdate") (param $value i32) (param $acc i32) (param $grad i32) (param $grad2 i32) (param $pm i32) (param $pc i32)
        (param $n i32) (param $nesterov i32) (param $decay f32) (param $outValue i32) (param $outAcc i32) (param $sums i32) (param $band i32)
    (local $end i32) (local $blockEnd i32) (local $blockOut i32) (local $bytes i32) (local $m f32) (local $c f32) (local $vm v128) (local $vc v128)
    (local $fv f32) (local $fg f32) (local $fa f32) (local $hasDecay i32) (local $vd v128)
    (local.set $m (f32.load (local.get $pm)))
    (local.set $c (f32.load (local.get $pc)))
    (local.set $vm (f32x4.splat (local.get $m)))
    (local.set $vc (f32x4.splat (local.get $c)))
    (local.set $hasDecay (f32.ne (local.get $decay) (f32.const 0)))
    (local.set $vd (f32x4.splat (local.get $decay)))
    (global.set $sumA (v128.const i64x2 0 0))
    (global.set $sumQ (v128.const i64x2 0 0))
    (local.set $end (i32.add (local.get $value) (i32.shl (i32.and (local.get $n) (i32.const -4)) (i32.const 2))))
    (block $done
      (loop $block
        (br_if $done (i32.ge_u (local.get $value) (local.get $end)))
        (local.set $blockEnd (call $blockEnd (local.get $value) (local.get $end)))
        (local.set $blockOut (local.get $outValue))
        (call $momentumVectors (local.get $value) (local.get $blockEnd) (local.get $acc) (local.get $grad) (local.get $grad2)
          (local.get $nesterov) (local.get $outValue) (local.get $outAcc) (local.get $vm) (local.get $vc) (local.get $hasDecay) (local.get $vd))
        (local.set $bytes (i32.sub (local.get $blockEnd) (local.get $value)))
        (local.set $value (local.get $blockEnd))
        (local.set $acc (i32.add (local.get $acc) (local.get $bytes)))
        (local.set $grad (i32.add (local.get $grad) (local.get $bytes)))
        (if (local.get $grad2) (then (local.set $grad2 (i32.add (local.get $grad2) (local.get $bytes)))))
        (local.set $outValue (i32.add (local.get $outValue) (local.get $bytes)))
        (local.set $outAcc (i32.add (local.get $outAcc) (local.get $bytes)))
        (if (local.get $sums) (then (call $blockSums (local.get $blockOut) (local.get $outValue))))
        (if (local.get $band) (then (call $magnitudeBand (local.get $blockOut) (local.get $outValue) (local.get $band))))
        (br $block)))
    (local.set $blockOut (local.get $outValue))
    (local.set $end (i32.add (local.get $end) (i32.shl (i32.and (local.get $n) (i32.const 3)) (i32.const 2))))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $value) (local.get $end)))
        (local.set $fv (f32.load (local.get $value)))
        (local.set $fg (f32.load (local.get $grad)))
        (if (local.get $grad2) (then (local.set $fg (f32.add (local.get $fg) (f32.load (local.get $grad2))))))
        (if (local.get $hasDecay) (then (local.set $fg (f32.add (local.get $fg) (f32.mul (local.get $fv) (local.get $decay))))))
        (local.set $fa (f32.add (f32.mul (local.get $m) (f32.load (local.get $acc))) (local.get $fg)))
        (f32.store (local.get $outAcc) (local.get $fa))
        (f32.store (local.get $outValue) (f32.add
          (f32.mul (local.get $c)
            (if (result f32) (local.get $nesterov)
              (then (f32.add (local.get $fg) (f32.mul (local.get $fa) (local.get $m))))
              (else (local.get $fa))))
          (local.get $fv)))
        (local.set $value (i32.add (local.get $value) (i32.const 4)))
        (local.set $acc (i32.add (local.get $acc) (i32.const 4)))
        (local.set $grad (i32.add (local.get $grad) (i32.const 4)))
        (if (local.get $grad2) (then (local.set $grad2 (i32.add (local.get $grad2) (i32.const 4)))))
        (local.set $outValue (i32.add (local.get $outValue) (i32.const 4)))
        (local.set $outAcc (i32.add (local.get $outAcc) (i32.const 4)))
        (br $next)))
    (if (local.get $sums)
      (then (call $finishSums (local.get $blockOut) (local.get $outValue) (local.get $sums) (i32.add (local.get $sums) (i32.const 4)))))
    (if (local.get $band) (then (call $magnitudeBand (local.get $blockOut) (local.get $outValue) (local.get $band)))))

  ;; momentumUpdate's vectors for value[value..blockEnd) (one block): a function of its own, without calls, so
  ;; that V8 keeps its pointers in registers (in the caller's loop, next to the block's calls, it stored
  ;; them to the stack on every vector).
  (func $momentumVectors (param $value i32) (param $blockEnd i32) (param $acc i32) (param $grad i32) (param $grad2 i32)
        (param $nesterov i32) (param $outValue i32) (param $outAcc i32) (param $vm v128) (param $vc v128) (param $hasDecay i32) (param $vd v128)
    (local $g v128) (local $a v128) (local $v v128)
        (loop $next
          (local.set $v (v128.load (local.get $value)))
          (local.set $g (v128.load (local.get $grad)))
          (if (local.get $grad2) (then (local.set $g (f32x4.add (local.get $g) (v128.load (local.get $grad2))))))
          (if (local.get $hasDecay) (then (local.set $g (f32x4.add (local.get $g) (f32x4.mul (local.get $v) (local.get $vd))))))
          (local.set $a (f32x4.add (f32x4.mul (local.get $vm) (v128.load (local.get $acc))) (local.get $g)))
          (v128.store (local.get $outAcc) (local.get $a))
          (v128.store (local.get $outValue) (f32x4.add
            (f32x4.mul (local.get $vc)
              (if (result v128) (local.get $nesterov)
                (then (f32x4.add (local.get $g) (f32x4.mul (local.get $a) (local.get $vm))))
                (else (local.get $a))))
            (local.get $v)))
          (local.set $value (i32.add (local.get $value) (i32.const 16)))
          (local.set $acc (i32.add (local.get $acc) (i32.const 16)))
          (local.set $grad (i32.add (local.get $grad) (i32.const 16)))
          (if (local.get $grad2) (then (local.set $grad2 (i32.add (local.get $grad2) (i32.const 16)))))
          (local.set $outValue (i32.add (local.get $outValue) (i32.const 16)))
          (local.set $outAcc (i32.add (local.get $outAcc) (i32.const 16)))
          (br_if $next (i32.lt_u (local.get $value) (local.get $blockEnd)))))

  ;; The magnitude band of x[x..end) for kthSmallestMagnitude's next call (momentumUpdate runs it on each
  ;; block it has just written). With keys = |x| bits and the i32 header band[0..5) = [lo, hi, capacity,
  ;; below, count]: below += #{key < lo}; each key in [lo, hi) adds 1 to count and, while count ≤
  ;; capacity, is stored at band[5 + count − 1], in the order of x. Keys are ≥ 0 as i32, so both bounds
  ;; are signed compares. 16 values per round, one test for "any in the band" (the band is narrow, so
  ;; that is rare): then the round's values go through the scalar loop, which also takes the last 1–15
  ;; values (counting those below lo too). No calls in the loop: V8 would spill the vector locals on
  ;; every round. This is cheaper than one vector per round with an unsigned compare (≈ 30
  ;; instructions a vector on x64; docs/performance.md).
  (func $magnitudeBand (param $x i32) (param $end i32) (param $band i32)
    (local $whole i32) (local $k0 v128) (local $k1 v128) (local $k2 v128) (local $k3 v128)
    (local $l0 v128) (local $l1 v128) (local $l2 v128) (local $l3 v128) (local $in v128) (local $below v128)
    (local $lo v128) (local $hi v128) (local $abs v128)
    (local $s i32) (local $stop i32) (local $tail i32) (local $k i32) (local $lo1 i32) (local $hi1 i32)
    (local $count i32) (local $capacity i32) (local $below1 i32)
    (local.set $lo1 (i32.load (local.get $band)))
    (local.set $hi1 (i32.load offset=4 (local.get $band)))
    (local.set $lo (i32x4.splat (local.get $lo1)))
    (local.set $hi (i32x4.splat (local.get $hi1)))
    (local.set $abs (v128.const i32x4 0x7fffffff 0x7fffffff 0x7fffffff 0x7fffffff))
    (local.set $capacity (i32.load offset=8 (local.get $band)))
    (local.set $count (i32.load offset=16 (local.get $band)))
    (local.set $whole (i32.add (local.get $x) (i32.and (i32.sub (local.get $end) (local.get $x)) (i32.const -64))))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $x) (local.get $end)))
        (local.set $s (local.get $x))
        (local.set $stop (local.get $x))
        (if (i32.lt_u (local.get $x) (local.get $whole))
          (then
            (local.set $k0 (v128.and (v128.load (local.get $x)) (local.get $abs)))
            (local.set $k1 (v128.and (v128.load offset=16 (local.get $x)) (local.get $abs)))
            (local.set $k2 (v128.and (v128.load offset=32 (local.get $x)) (local.get $abs)))
            (local.set $k3 (v128.and (v128.load offset=48 (local.get $x)) (local.get $abs)))
            (local.set $l0 (i32x4.lt_s (local.get $k0) (local.get $lo)))
            (local.set $l1 (i32x4.lt_s (local.get $k1) (local.get $lo)))
            (local.set $l2 (i32x4.lt_s (local.get $k2) (local.get $lo)))
            (local.set $l3 (i32x4.lt_s (local.get $k3) (local.get $lo)))
            (local.set $below (i32x4.sub (i32x4.sub (local.get $below) (i32x4.add (local.get $l0) (local.get $l1)))
                                         (i32x4.add (local.get $l2) (local.get $l3))))
            (local.set $in (v128.or
              (v128.or (v128.andnot (i32x4.lt_s (local.get $k0) (local.get $hi)) (local.get $l0))
                       (v128.andnot (i32x4.lt_s (local.get $k1) (local.get $hi)) (local.get $l1)))
              (v128.or (v128.andnot (i32x4.lt_s (local.get $k2) (local.get $hi)) (local.get $l2))
                       (v128.andnot (i32x4.lt_s (local.get $k3) (local.get $hi)) (local.get $l3)))))
            (local.set $x (i32.add (local.get $x) (i32.const 64)))
            (if (v128.any_true (local.get $in)) (then (local.set $stop (local.get $x)))))
          (else
            (local.set $stop (local.get $end))
            (local.set $tail (i32.const 1))
            (local.set $x (local.get $end))))
        ;; [s, stop) one value at a time: band keys; below lo too in the tail
        (block $scalarDone
          (loop $scalar
            (br_if $scalarDone (i32.ge_u (local.get $s) (local.get $stop)))
            (local.set $k (i32.and (i32.load (local.get $s)) (i32.const 0x7fffffff)))
            (local.set $below1 (i32.add (local.get $below1) (i32.and (local.get $tail) (i32.lt_s (local.get $k) (local.get $lo1)))))
            (if (i32.and (i32.ge_s (local.get $k) (local.get $lo1)) (i32.lt_s (local.get $k) (local.get $hi1)))
              (then
                (if (i32.lt_u (local.get $count) (local.get $capacity))
                  (then (i32.store offset=20 (i32.add (local.get $band) (i32.shl (local.get $count) (i32.const 2))) (local.get $k))))
                (local.set $count (i32.add (local.get $count) (i32.const 1)))))
            (local.set $s (i32.add (local.get $s) (i32.const 4)))
            (br $scalar)))
        (br $next)))
    (i32.store offset=16 (local.get $band) (local.get $count))
    (i32.store offset=12 (local.get $band)
      (i32.add (i32.load offset=12 (local.get $band)) (i32.add (local.get $below1) (call $hsum32 (local.get $below))))))
)
