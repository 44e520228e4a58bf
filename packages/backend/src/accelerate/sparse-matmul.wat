;; WebAssembly SIMD versions of the sparse × dense product in sparse-matmul.ts, run over the tfjs wasm
;; backend's own memory (imported), on tensors addressed by byte offset. Compiled by
;; tools/scripts/compile-wat.mjs into sparse-matmul.wasm.ts; edit this file, then run `npm run compile-wat`.
;; The matrix is CSR with one row per output; its indices are float32 2^23 + i, read as integers with a
;; mask (0x007fffff). $flags: bit 0 a bias is given, bit 1 apply relu.
;; V8 (Node 20's) does not inline calls between these functions, so the loops over non-zeros and outputs
;; decode indices and apply the bias and activation inline (docs/performance.md, "The batch path").
(module
  (import "env" "memory" (memory 1)) ;; MEMORY

  ;; act(s + bias[r]) for output r.
  (func $finish (param $s f32) (param $bias i32) (param $r i32) (param $flags i32) (result f32)
    (if (i32.and (local.get $flags) (i32.const 1))
      (then (local.set $s (f32.add (local.get $s) (f32.load (i32.add (local.get $bias) (i32.shl (local.get $r) (i32.const 2))))))))
    (if (result f32) (i32.and (local.get $flags) (i32.const 2))
      (then (f32.max (local.get $s) (f32.const 0)))
      (else (local.get $s))))

  ;; The byte offset of index slot k of an index array: its value masked, times 4.
  (func $index (param $array i32) (param $k i32) (result i32)
    (i32.shl (i32.and (i32.load (i32.add (local.get $array) (i32.shl (local.get $k) (i32.const 2)))) (i32.const 0x7fffff))
      (i32.const 2)))

  ;; One sample: y[r] = act(Σ_k values[k]·x[columns[k]] + bias[r]) for r < $rows. Four non-zeros at a
  ;; time in f32 lanes (the gathered x values loaded lane by lane), the rest one at a time.
  (func (export "csrRows") (param $x i32) (param $values i32) (param $columns i32) (param $rowStarts i32)
    (param $bias i32) (param $y i32) (param $rows i32) (param $flags i32)
    (local $r i32) (local $v i32) (local $c i32) (local $end i32) (local $end4 i32)
    (local $acc v128) (local $idx v128) (local $g v128) (local $s f32)
    (local.set $v (i32.add (local.get $values) (call $index (local.get $rowStarts) (i32.const 0))))
    (local.set $c (i32.add (local.get $columns) (i32.sub (local.get $v) (local.get $values))))
    (block $done
      (loop $row
        (br_if $done (i32.ge_u (local.get $r) (local.get $rows)))
        (local.set $end (i32.add (local.get $values) (i32.shl (i32.and (i32.load offset=4 (i32.add (local.get $rowStarts)
          (i32.shl (local.get $r) (i32.const 2)))) (i32.const 0x7fffff)) (i32.const 2))))
        (local.set $end4 (i32.sub (local.get $end) (i32.const 12)))
        (local.set $acc (v128.const i32x4 0 0 0 0))
        (block $quadsDone
          (loop $quads
            (br_if $quadsDone (i32.ge_s (local.get $v) (local.get $end4)))
            (local.set $idx (i32x4.shl (v128.and (v128.load (local.get $c)) (v128.const i32x4 0x7fffff 0x7fffff 0x7fffff 0x7fffff)) (i32.const 2)))
            (local.set $g (v128.load32_zero (i32.add (local.get $x) (i32x4.extract_lane 0 (local.get $idx)))))
            (local.set $g (v128.load32_lane 1 (i32.add (local.get $x) (i32x4.extract_lane 1 (local.get $idx))) (local.get $g)))
            (local.set $g (v128.load32_lane 2 (i32.add (local.get $x) (i32x4.extract_lane 2 (local.get $idx))) (local.get $g)))
            (local.set $g (v128.load32_lane 3 (i32.add (local.get $x) (i32x4.extract_lane 3 (local.get $idx))) (local.get $g)))
            (local.set $acc (f32x4.add (local.get $acc) (f32x4.mul (v128.load (local.get $v)) (local.get $g))))
            (local.set $v (i32.add (local.get $v) (i32.const 16)))
            (local.set $c (i32.add (local.get $c) (i32.const 16)))
            (br $quads)))
        (local.set $s (f32.add
          (f32.add (f32x4.extract_lane 0 (local.get $acc)) (f32x4.extract_lane 1 (local.get $acc)))
          (f32.add (f32x4.extract_lane 2 (local.get $acc)) (f32x4.extract_lane 3 (local.get $acc)))))
        (block $restDone
          (loop $rest
            (br_if $restDone (i32.ge_u (local.get $v) (local.get $end)))
            (local.set $s (f32.add (local.get $s) (f32.mul (f32.load (local.get $v))
              (f32.load (i32.add (local.get $x) (i32.shl (i32.and (i32.load (local.get $c)) (i32.const 0x7fffff)) (i32.const 2)))))))
            (local.set $v (i32.add (local.get $v) (i32.const 4)))
            (local.set $c (i32.add (local.get $c) (i32.const 4)))
            (br $rest)))
        (if (i32.and (local.get $flags) (i32.const 1))
          (then (local.set $s (f32.add (local.get $s) (f32.load (i32.add (local.get $bias) (i32.shl (local.get $r) (i32.const 2))))))))
        (if (i32.and (local.get $flags) (i32.const 2))
          (then (local.set $s (f32.max (local.get $s) (f32.const 0)))))
        (f32.store (i32.add (local.get $y) (i32.shl (local.get $r) (i32.const 2))) (local.get $s))
        (local.set $r (i32.add (local.get $r) (i32.const 1)))
        (br $row))))

  ;; dst[c·$lanes + b] = src[b·$cols + c] for $b0 ≤ b < $b1, $c0 ≤ c < $c1, one value at a time.
  (func $transposeScalar (param $src i32) (param $cols i32) (param $dst i32) (param $lanes i32)
    (param $b0 i32) (param $b1 i32) (param $c0 i32) (param $c1 i32)
    (local $b i32) (local $c i32) (local $from i32) (local $to i32)
    (local.set $b (local.get $b0))
    (block $done
      (loop $sample
        (br_if $done (i32.ge_u (local.get $b) (local.get $b1)))
        (local.set $from (i32.add (local.get $src) (i32.shl (i32.add (i32.mul (local.get $b) (local.get $cols)) (local.get $c0)) (i32.const 2))))
        (local.set $to (i32.add (local.get $dst) (i32.shl (i32.add (i32.mul (local.get $c0) (local.get $lanes)) (local.get $b)) (i32.const 2))))
        (local.set $c (local.get $c0))
        (block $rowDone
          (loop $column
            (br_if $rowDone (i32.ge_u (local.get $c) (local.get $c1)))
            (f32.store (local.get $to) (f32.load (local.get $from)))
            (local.set $from (i32.add (local.get $from) (i32.const 4)))
            (local.set $to (i32.add (local.get $to) (i32.shl (local.get $lanes) (i32.const 2))))
            (local.set $c (i32.add (local.get $c) (i32.const 1)))
            (br $column)))
        (local.set $b (i32.add (local.get $b) (i32.const 1)))
        (br $sample))))

  ;; dst[c·$lanes + b] = src[b·$cols + c] for b < $batch, c < $cols (x [batch, cols] → xT [cols, lanes]):
  ;; 4×4 blocks in SIMD registers (four loads, eight shuffles, four stores), the edges one at a time.
  (func (export "transpose") (param $src i32) (param $batch i32) (param $cols i32) (param $dst i32) (param $lanes i32)
    (local $b i32) (local $c i32) (local $batch4 i32) (local $cols4 i32) (local $rowBytes i32) (local $laneBytes i32)
    (local $from i32) (local $to i32) (local $r0 v128) (local $r1 v128) (local $r2 v128) (local $r3 v128) (local $t0 v128) (local $t1 v128)
    (local $t2 v128) (local $t3 v128)
    (local.set $batch4 (i32.and (local.get $batch) (i32.const -4)))
    (local.set $cols4 (i32.and (local.get $cols) (i32.const -4)))
    (local.set $rowBytes (i32.shl (local.get $cols) (i32.const 2)))
    (local.set $laneBytes (i32.shl (local.get $lanes) (i32.const 2)))
    (block $done
      (loop $samples
        (br_if $done (i32.ge_u (local.get $b) (local.get $batch4)))
        (local.set $from (i32.add (local.get $src) (i32.mul (local.get $b) (local.get $rowBytes))))
        (local.set $to (i32.add (local.get $dst) (i32.shl (local.get $b) (i32.const 2))))
        (local.set $c (i32.const 0))
        (block $blocksDone
          (loop $blocks
            (br_if $blocksDone (i32.ge_u (local.get $c) (local.get $cols4)))
            (local.set $r0 (v128.load (local.get $from)))
            (local.set $r1 (v128.load (i32.add (local.get $from) (local.get $rowBytes))))
            (local.set $r2 (v128.load (i32.add (local.get $from) (i32.shl (local.get $rowBytes) (i32.const 1)))))
            (local.set $r3 (v128.load (i32.add (local.get $from) (i32.mul (local.get $rowBytes) (i32.const 3)))))
            (local.set $t0 (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23 (local.get $r0) (local.get $r1)))
            (local.set $t1 (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31 (local.get $r0) (local.get $r1)))
            (local.set $t2 (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23 (local.get $r2) (local.get $r3)))
            (local.set $t3 (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31 (local.get $r2) (local.get $r3)))
            (v128.store (local.get $to) (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $t0) (local.get $t2)))
            (local.set $to (i32.add (local.get $to) (local.get $laneBytes)))
            (v128.store (local.get $to) (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $t0) (local.get $t2)))
            (local.set $to (i32.add (local.get $to) (local.get $laneBytes)))
            (v128.store (local.get $to) (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $t1) (local.get $t3)))
            (local.set $to (i32.add (local.get $to) (local.get $laneBytes)))
            (v128.store (local.get $to) (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $t1) (local.get $t3)))
            (local.set $to (i32.add (local.get $to) (local.get $laneBytes)))
            (local.set $from (i32.add (local.get $from) (i32.const 16)))
            (local.set $c (i32.add (local.get $c) (i32.const 4)))
            (br $blocks)))
        (local.set $b (i32.add (local.get $b) (i32.const 4)))
        (br $samples)))
    (call $transposeScalar (local.get $src) (local.get $cols) (local.get $dst) (local.get $lanes)
      (i32.const 0) (local.get $batch4) (local.get $cols4) (local.get $cols))
    (call $transposeScalar (local.get $src) (local.get $cols) (local.get $dst) (local.get $lanes)
      (local.get $batch4) (local.get $batch) (i32.const 0) (local.get $cols)))

  ;; yT[r, at/4 + j] for j < 32: lanes $at.. (a byte offset) of every row. $lanes16 and $lanes4 below are
  ;; the same loop with 4 and 1 accumulators.
  (func $lanes32 (param $xT i32) (param $values i32) (param $columns i32) (param $rowStarts i32)
    (param $yT i32) (param $rows i32) (param $stride i32) (param $at i32)
    (local $r i32) (local $k i32) (local $end i32) (local $src i32) (local $dst i32) (local $w v128) (local $a0 v128) (local $a1 v128) (local $a2 v128) (local $a3 v128) (local $a4 v128) (local $a5 v128) (local $a6 v128) (local $a7 v128)
    (local.set $k (i32.shr_u (call $index (local.get $rowStarts) (i32.const 0)) (i32.const 2)))
    (local.set $xT (i32.add (local.get $xT) (local.get $at)))
    (local.set $dst (i32.add (local.get $yT) (local.get $at)))
    (block $rowsDone
      (loop $row
        (br_if $rowsDone (i32.ge_u (local.get $r) (local.get $rows)))
        (local.set $end (i32.and (i32.load offset=4 (i32.add (local.get $rowStarts) (i32.shl (local.get $r) (i32.const 2))))
          (i32.const 0x7fffff)))
        (local.set $a0 (v128.const i32x4 0 0 0 0))
        (local.set $a1 (v128.const i32x4 0 0 0 0))
        (local.set $a2 (v128.const i32x4 0 0 0 0))
        (local.set $a3 (v128.const i32x4 0 0 0 0))
        (local.set $a4 (v128.const i32x4 0 0 0 0))
        (local.set $a5 (v128.const i32x4 0 0 0 0))
        (local.set $a6 (v128.const i32x4 0 0 0 0))
        (local.set $a7 (v128.const i32x4 0 0 0 0))
        (block $nzDone
          (loop $nz
            (br_if $nzDone (i32.ge_u (local.get $k) (local.get $end)))
            (local.set $w (v128.load32_splat (i32.add (local.get $values) (i32.shl (local.get $k) (i32.const 2)))))
            (local.set $src (i32.add (local.get $xT)
              (i32.mul (i32.and (i32.load (i32.add (local.get $columns) (i32.shl (local.get $k) (i32.const 2)))) (i32.const 0x7fffff))
                (local.get $stride))))
            (local.set $a0 (f32x4.add (local.get $a0) (f32x4.mul (local.get $w) (v128.load offset=0 (local.get $src)))))
            (local.set $a1 (f32x4.add (local.get $a1) (f32x4.mul (local.get $w) (v128.load offset=16 (local.get $src)))))
            (local.set $a2 (f32x4.add (local.get $a2) (f32x4.mul (local.get $w) (v128.load offset=32 (local.get $src)))))
            (local.set $a3 (f32x4.add (local.get $a3) (f32x4.mul (local.get $w) (v128.load offset=48 (local.get $src)))))
            (local.set $a4 (f32x4.add (local.get $a4) (f32x4.mul (local.get $w) (v128.load offset=64 (local.get $src)))))
            (local.set $a5 (f32x4.add (local.get $a5) (f32x4.mul (local.get $w) (v128.load offset=80 (local.get $src)))))
            (local.set $a6 (f32x4.add (local.get $a6) (f32x4.mul (local.get $w) (v128.load offset=96 (local.get $src)))))
            (local.set $a7 (f32x4.add (local.get $a7) (f32x4.mul (local.get $w) (v128.load offset=112 (local.get $src)))))
            (local.set $k (i32.add (local.get $k) (i32.const 1)))
            (br $nz)))
        (v128.store offset=0 (local.get $dst) (local.get $a0))
        (v128.store offset=16 (local.get $dst) (local.get $a1))
        (v128.store offset=32 (local.get $dst) (local.get $a2))
        (v128.store offset=48 (local.get $dst) (local.get $a3))
        (v128.store offset=64 (local.get $dst) (local.get $a4))
        (v128.store offset=80 (local.get $dst) (local.get $a5))
        (v128.store offset=96 (local.get $dst) (local.get $a6))
        (v128.store offset=112 (local.get $dst) (local.get $a7))
        (local.set $dst (i32.add (local.get $dst) (local.get $stride)))
        (local.set $r (i32.add (local.get $r) (i32.const 1)))
        (br $row))))

  ;; yT[r, at/4 + j] for j < 16: lanes $at.. (a byte offset) of every row.
  (func $lanes16 (param $xT i32) (param $values i32) (param $columns i32) (param $rowStarts i32)
    (param $yT i32) (param $rows i32) (param $stride i32) (param $at i32)
    (local $r i32) (local $k i32) (local $end i32) (local $src i32) (local $dst i32) (local $w v128) (local $a0 v128) (local $a1 v128) (local $a2 v128) (local $a3 v128)
    (local.set $k (i32.shr_u (call $index (local.get $rowStarts) (i32.const 0)) (i32.const 2)))
    (local.set $xT (i32.add (local.get $xT) (local.get $at)))
    (local.set $dst (i32.add (local.get $yT) (local.get $at)))
    (block $rowsDone
      (loop $row
        (br_if $rowsDone (i32.ge_u (local.get $r) (local.get $rows)))
        (local.set $end (i32.and (i32.load offset=4 (i32.add (local.get $rowStarts) (i32.shl (local.get $r) (i32.const 2))))
          (i32.const 0x7fffff)))
        (local.set $a0 (v128.const i32x4 0 0 0 0))
        (local.set $a1 (v128.const i32x4 0 0 0 0))
        (local.set $a2 (v128.const i32x4 0 0 0 0))
        (local.set $a3 (v128.const i32x4 0 0 0 0))
        (block $nzDone
          (loop $nz
            (br_if $nzDone (i32.ge_u (local.get $k) (local.get $end)))
            (local.set $w (v128.load32_splat (i32.add (local.get $values) (i32.shl (local.get $k) (i32.const 2)))))
            (local.set $src (i32.add (local.get $xT)
              (i32.mul (i32.and (i32.load (i32.add (local.get $columns) (i32.shl (local.get $k) (i32.const 2)))) (i32.const 0x7fffff))
                (local.get $stride))))
            (local.set $a0 (f32x4.add (local.get $a0) (f32x4.mul (local.get $w) (v128.load offset=0 (local.get $src)))))
            (local.set $a1 (f32x4.add (local.get $a1) (f32x4.mul (local.get $w) (v128.load offset=16 (local.get $src)))))
            (local.set $a2 (f32x4.add (local.get $a2) (f32x4.mul (local.get $w) (v128.load offset=32 (local.get $src)))))
            (local.set $a3 (f32x4.add (local.get $a3) (f32x4.mul (local.get $w) (v128.load offset=48 (local.get $src)))))
            (local.set $k (i32.add (local.get $k) (i32.const 1)))
            (br $nz)))
        (v128.store offset=0 (local.get $dst) (local.get $a0))
        (v128.store offset=16 (local.get $dst) (local.get $a1))
        (v128.store offset=32 (local.get $dst) (local.get $a2))
        (v128.store offset=48 (local.get $dst) (local.get $a3))
        (local.set $dst (i32.add (local.get $dst) (local.get $stride)))
        (local.set $r (i32.add (local.get $r) (i32.const 1)))
        (br $row))))

  ;; yT[r, at/4 + j] for j < 4: lanes $at.. (a byte offset) of every row.
  (func $lanes4 (param $xT i32) (param $values i32) (param $columns i32) (param $rowStarts i32)
    (param $yT i32) (param $rows i32) (param $stride i32) (param $at i32)
    (local $r i32) (local $k i32) (local $end i32) (local $src i32) (local $dst i32) (local $w v128) (local $a0 v128)
    (local.set $k (i32.shr_u (call $index (local.get $rowStarts) (i32.const 0)) (i32.const 2)))
    (local.set $xT (i32.add (local.get $xT) (local.get $at)))
    (local.set $dst (i32.add (local.get $yT) (local.get $at)))
    (block $rowsDone
      (loop $row
        (br_if $rowsDone (i32.ge_u (local.get $r) (local.get $rows)))
        (local.set $end (i32.and (i32.load offset=4 (i32.add (local.get $rowStarts) (i32.shl (local.get $r) (i32.const 2))))
          (i32.const 0x7fffff)))
        (local.set $a0 (v128.const i32x4 0 0 0 0))
        (block $nzDone
          (loop $nz
            (br_if $nzDone (i32.ge_u (local.get $k) (local.get $end)))
            (local.set $w (v128.load32_splat (i32.add (local.get $values) (i32.shl (local.get $k) (i32.const 2)))))
            (local.set $src (i32.add (local.get $xT)
              (i32.mul (i32.and (i32.load (i32.add (local.get $columns) (i32.shl (local.get $k) (i32.const 2)))) (i32.const 0x7fffff))
                (local.get $stride))))
            (local.set $a0 (f32x4.add (local.get $a0) (f32x4.mul (local.get $w) (v128.load offset=0 (local.get $src)))))
            (local.set $k (i32.add (local.get $k) (i32.const 1)))
            (br $nz)))
        (v128.store offset=0 (local.get $dst) (local.get $a0))
        (local.set $dst (i32.add (local.get $dst) (local.get $stride)))
        (local.set $r (i32.add (local.get $r) (i32.const 1)))
        (br $row))))

  ;; A batch, transposed: yT[r, b] = Σ_k values[k]·xT[columns[k], b] for r < $rows and b < $lanes (a
  ;; multiple of 4): 32 lanes at a time (one load of each non-zero and its index for 32 samples) where
  ;; 32 remain, then 16, then 4.
  (func (export "csrLanes") (param $xT i32) (param $values i32) (param $columns i32) (param $rowStarts i32)
    (param $yT i32) (param $rows i32) (param $lanes i32)
    (local $stride i32) (local $at i32) (local $left i32)
    (local.set $stride (i32.shl (local.get $lanes) (i32.const 2)))
    (block $done
      (loop $chunk
        (local.set $left (i32.sub (local.get $stride) (local.get $at)))
        (br_if $done (i32.eqz (local.get $left)))
        (if (i32.ge_u (local.get $left) (i32.const 128))
          (then
            (call $lanes32 (local.get $xT) (local.get $values) (local.get $columns) (local.get $rowStarts) (local.get $yT) (local.get $rows) (local.get $stride) (local.get $at))
            (local.set $at (i32.add (local.get $at) (i32.const 128))))
          (else (if (i32.ge_u (local.get $left) (i32.const 64))
            (then
              (call $lanes16 (local.get $xT) (local.get $values) (local.get $columns) (local.get $rowStarts) (local.get $yT) (local.get $rows) (local.get $stride) (local.get $at))
              (local.set $at (i32.add (local.get $at) (i32.const 64))))
            (else
              (call $lanes4 (local.get $xT) (local.get $values) (local.get $columns) (local.get $rowStarts) (local.get $yT) (local.get $rows) (local.get $stride) (local.get $at))
              (local.set $at (i32.add (local.get $at) (i32.const 16)))))))
        (br $chunk))))

  ;; y[b, r] = act(yT[r·$lanes + b] + bias[r]) for b < $batch, r < $rows: one output at a time, four
  ;; samples in SIMD lanes (each stored to its row of y), the last 1–3 samples one at a time.
  (func (export "finishLanes") (param $yT i32) (param $lanes i32) (param $bias i32) (param $y i32)
    (param $batch i32) (param $rows i32) (param $flags i32)
    (local $b i32) (local $r i32) (local $from i32) (local $to i32) (local $rowBytes i32) (local $batch4 i32)
    (local $add v128) (local $v v128)
    (local.set $rowBytes (i32.shl (local.get $rows) (i32.const 2)))
    (local.set $batch4 (i32.and (local.get $batch) (i32.const -4)))
    (block $done
      (loop $output
        (br_if $done (i32.ge_u (local.get $r) (local.get $rows)))
        (local.set $from (i32.add (local.get $yT) (i32.shl (i32.mul (local.get $r) (local.get $lanes)) (i32.const 2))))
        (local.set $to (i32.add (local.get $y) (i32.shl (local.get $r) (i32.const 2))))
        (local.set $add (f32x4.splat (if (result f32) (i32.and (local.get $flags) (i32.const 1))
          (then (f32.load (i32.add (local.get $bias) (i32.shl (local.get $r) (i32.const 2)))))
          (else (f32.const 0)))))
        (local.set $b (i32.const 0))
        (block $quadsDone
          (loop $quads
            (br_if $quadsDone (i32.ge_u (local.get $b) (local.get $batch4)))
            (local.set $v (v128.load (local.get $from)))
            (if (i32.and (local.get $flags) (i32.const 1)) (then (local.set $v (f32x4.add (local.get $v) (local.get $add)))))
            (if (i32.and (local.get $flags) (i32.const 2)) (then (local.set $v (f32x4.max (local.get $v) (v128.const i32x4 0 0 0 0)))))
            (v128.store32_lane 0 (local.get $to) (local.get $v))
            (local.set $to (i32.add (local.get $to) (local.get $rowBytes)))
            (v128.store32_lane 1 (local.get $to) (local.get $v))
            (local.set $to (i32.add (local.get $to) (local.get $rowBytes)))
            (v128.store32_lane 2 (local.get $to) (local.get $v))
            (local.set $to (i32.add (local.get $to) (local.get $rowBytes)))
            (v128.store32_lane 3 (local.get $to) (local.get $v))
            (local.set $to (i32.add (local.get $to) (local.get $rowBytes)))
            (local.set $from (i32.add (local.get $from) (i32.const 16)))
            (local.set $b (i32.add (local.get $b) (i32.const 4)))
            (br $quads)))
        (block $restDone
          (loop $rest
            (br_if $restDone (i32.ge_u (local.get $b) (local.get $batch)))
            (f32.store (local.get $to) (call $finish (f32.load (local.get $from)) (local.get $bias) (local.get $r) (local.get $flags)))
            (local.set $to (i32.add (local.get $to) (local.get $rowBytes)))
            (local.set $from (i32.add (local.get $from) (i32.const 4)))
            (local.set $b (i32.add (local.get $b) (i32.const 1)))
            (br $rest)))
        (local.set $r (i32.add (local.get $r) (i32.const 1)))
        (br $output))))
)
