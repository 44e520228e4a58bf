;; WebAssembly SIMD versions of the sparse × dense product in sparse-matmul.ts, run over the tfjs wasm
;; backend's own memory (imported), on tensors addressed by byte offset. Compiled by
;; tools/scripts/compile-wat.mjs into sparse-matmul.wasm.ts; edit this file, then run `npm run compile-wat`.
;; The matrix is CSR with one row per output; its indices are float32 2^23 + i, read as integers with a
;; mask (0x007fffff). $flags: bit 0 a bias is given, bit 1 apply relu.
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
        (local.set $end (i32.add (local.get $values) (call $index (local.get $rowStarts) (i32.add (local.get $r) (i32.const 1)))))
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
              (f32.load (i32.add (local.get $x) (call $index (local.get $c) (i32.const 0)))))))
            (local.set $v (i32.add (local.get $v) (i32.const 4)))
            (local.set $c (i32.add (local.get $c) (i32.const 4)))
            (br $rest)))
        (f32.store (i32.add (local.get $y) (i32.shl (local.get $r) (i32.const 2)))
          (call $finish (local.get $s) (local.get $bias) (local.get $r) (local.get $flags)))
        (local.set $r (i32.add (local.get $r) (i32.const 1)))
        (br $row))))

  ;; dst[c·$lanes + b] = src[b·$cols + c] for b < $batch, c < $cols (x [batch, cols] → xT [cols, lanes]).
  (func (export "transpose") (param $src i32) (param $batch i32) (param $cols i32) (param $dst i32) (param $lanes i32)
    (local $b i32) (local $c i32) (local $from i32) (local $to i32)
    (block $done
      (loop $sample
        (br_if $done (i32.ge_u (local.get $b) (local.get $batch)))
        (local.set $from (i32.add (local.get $src) (i32.shl (i32.mul (local.get $b) (local.get $cols)) (i32.const 2))))
        (local.set $to (i32.add (local.get $dst) (i32.shl (local.get $b) (i32.const 2))))
        (local.set $c (i32.const 0))
        (block $rowDone
          (loop $column
            (br_if $rowDone (i32.ge_u (local.get $c) (local.get $cols)))
            (f32.store (local.get $to) (f32.load (local.get $from)))
            (local.set $from (i32.add (local.get $from) (i32.const 4)))
            (local.set $to (i32.add (local.get $to) (i32.shl (local.get $lanes) (i32.const 2))))
            (local.set $c (i32.add (local.get $c) (i32.const 1)))
            (br $column)))
        (local.set $b (i32.add (local.get $b) (i32.const 1)))
        (br $sample))))

  ;; A batch, transposed: yT[r, b] = Σ_k values[k]·xT[columns[k], b] for r < $rows and b < $lanes (a
  ;; multiple of 4), 16 lanes at a time where 16 remain, then 4.
  (func (export "csrLanes") (param $xT i32) (param $values i32) (param $columns i32) (param $rowStarts i32)
    (param $yT i32) (param $rows i32) (param $lanes i32)
    (local $stride i32) (local $at i32) (local $width i32) (local $r i32) (local $k i32) (local $end i32)
    (local $src i32) (local $dst i32) (local $w v128) (local $a0 v128) (local $a1 v128) (local $a2 v128) (local $a3 v128)
    (local.set $stride (i32.shl (local.get $lanes) (i32.const 2)))
    (block $done
      (loop $chunk
        (br_if $done (i32.ge_u (local.get $at) (local.get $stride)))
        (local.set $width (select (i32.const 64) (i32.const 16) (i32.ge_u (i32.sub (local.get $stride) (local.get $at)) (i32.const 64))))
        (local.set $r (i32.const 0))
        (local.set $k (i32.shr_u (call $index (local.get $rowStarts) (i32.const 0)) (i32.const 2)))
        (block $rowsDone
          (loop $row
            (br_if $rowsDone (i32.ge_u (local.get $r) (local.get $rows)))
            (local.set $end (i32.shr_u (call $index (local.get $rowStarts) (i32.add (local.get $r) (i32.const 1))) (i32.const 2)))
            (local.set $a0 (v128.const i32x4 0 0 0 0))
            (local.set $a1 (v128.const i32x4 0 0 0 0))
            (local.set $a2 (v128.const i32x4 0 0 0 0))
            (local.set $a3 (v128.const i32x4 0 0 0 0))
            (block $nzDone
              (loop $nz
                (br_if $nzDone (i32.ge_u (local.get $k) (local.get $end)))
                (local.set $w (v128.load32_splat (i32.add (local.get $values) (i32.shl (local.get $k) (i32.const 2)))))
                (local.set $src (i32.add (i32.add (local.get $xT) (local.get $at))
                  (i32.mul (i32.shr_u (call $index (local.get $columns) (local.get $k)) (i32.const 2)) (local.get $stride))))
                (local.set $a0 (f32x4.add (local.get $a0) (f32x4.mul (local.get $w) (v128.load offset=0 (local.get $src)))))
                (if (i32.eq (local.get $width) (i32.const 64))
                  (then
                    (local.set $a1 (f32x4.add (local.get $a1) (f32x4.mul (local.get $w) (v128.load offset=16 (local.get $src)))))
                    (local.set $a2 (f32x4.add (local.get $a2) (f32x4.mul (local.get $w) (v128.load offset=32 (local.get $src)))))
                    (local.set $a3 (f32x4.add (local.get $a3) (f32x4.mul (local.get $w) (v128.load offset=48 (local.get $src)))))))
                (local.set $k (i32.add (local.get $k) (i32.const 1)))
                (br $nz)))
            (local.set $dst (i32.add (i32.add (local.get $yT) (local.get $at)) (i32.mul (local.get $r) (local.get $stride))))
            (v128.store offset=0 (local.get $dst) (local.get $a0))
            (if (i32.eq (local.get $width) (i32.const 64))
              (then
                (v128.store offset=16 (local.get $dst) (local.get $a1))
                (v128.store offset=32 (local.get $dst) (local.get $a2))
                (v128.store offset=48 (local.get $dst) (local.get $a3))))
            (local.set $r (i32.add (local.get $r) (i32.const 1)))
            (br $row)))
        (local.set $at (i32.add (local.get $at) (local.get $width)))
        (br $chunk))))

  ;; y[b, r] = act(yT[r·$lanes + b] + bias[r]) for b < $batch, r < $rows.
  (func (export "finishLanes") (param $yT i32) (param $lanes i32) (param $bias i32) (param $y i32)
    (param $batch i32) (param $rows i32) (param $flags i32)
    (local $b i32) (local $r i32) (local $to i32)
    (local.set $to (local.get $y))
    (block $done
      (loop $sample
        (br_if $done (i32.ge_u (local.get $b) (local.get $batch)))
        (local.set $r (i32.const 0))
        (block $rowDone
          (loop $output
            (br_if $rowDone (i32.ge_u (local.get $r) (local.get $rows)))
            (f32.store (local.get $to)
              (call $finish
                (f32.load (i32.add (local.get $yT) (i32.shl (i32.add (i32.mul (local.get $r) (local.get $lanes)) (local.get $b)) (i32.const 2))))
                (local.get $bias) (local.get $r) (local.get $flags)))
            (local.set $to (i32.add (local.get $to) (i32.const 4)))
            (local.set $r (i32.add (local.get $r) (i32.const 1)))
            (br $output)))
        (local.set $b (i32.add (local.get $b) (i32.const 1)))
        (br $sample))))
)
