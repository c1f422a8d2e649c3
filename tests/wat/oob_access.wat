;; Attacks memory isolation: reads and writes outside its own linear memory, picked by the claim id's first
;; letter: a) i64.load at 0xFFFFFFF8, b) a store one byte past the end, c) memory.copy from across the end,
;; d) memory.fill across the end, e) a load whose static offset wraps past 4 GiB, f) an 8-byte load straddling
;; the end. Each must trap with memory-out-of-bounds; any other letter allows.
(module
  (memory (export "memory") 2)
  (data (i32.const 16) "{\"verdict\":\"allow\",\"reason\":\"ok\"}")
  (func (export "hongbao_abi_version") (result i32) i32.const 1)
  (func (export "hongbao_alloc") (param i32) (result i32) i32.const 8192)
  ;; the byte after "claim_id":" in the input (the case letter), or 0
  (data (i32.const 256) "\"claim_id\":\"")
  (func $case (param $p i32) (param $l i32) (result i32)
    (local $i i32) (local $j i32)
    (block $no
      (loop $outer
        (br_if $no (i32.gt_u (i32.add (local.get $i) (i32.const 13)) (local.get $l)))
        (local.set $j (i32.const 0))
        (block $mismatch
          (loop $inner
            (if (i32.ge_u (local.get $j) (i32.const 12))
              (then (return (i32.load8_u (i32.add (i32.add (local.get $p) (local.get $i)) (i32.const 12))))))
            (br_if $mismatch (i32.ne (i32.load8_u (i32.add (i32.add (local.get $p) (local.get $i)) (local.get $j)))
                                     (i32.load8_u (i32.add (i32.const 256) (local.get $j)))))
            (local.set $j (i32.add (local.get $j) (i32.const 1)))
            (br $inner)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $outer)))
    i32.const 0)
  (func $out (param $ptr i32) (param $len i32) (result i64)
    (i64.or (i64.shl (i64.extend_i32_u (local.get $ptr)) (i64.const 32))
            (i64.extend_i32_u (local.get $len))))
  (func (export "hongbao_claim") (param $p i32) (param $l i32) (result i64)
    (local $c i32) (local $end i32)
    (local.set $c (call $case (local.get $p) (local.get $l)))
    (local.set $end (i32.mul (memory.size) (i32.const 65536)))
    (if (i32.eq (local.get $c) (i32.const 97)) (then (drop (i64.load (i32.const 0xFFFFFFF8)))))
    (if (i32.eq (local.get $c) (i32.const 98)) (then (i32.store8 (local.get $end) (i32.const 1))))
    (if (i32.eq (local.get $c) (i32.const 99))
      (then (memory.copy (i32.const 0) (i32.sub (local.get $end) (i32.const 4)) (i32.const 8))))
    (if (i32.eq (local.get $c) (i32.const 100))
      (then (memory.fill (i32.sub (local.get $end) (i32.const 4)) (i32.const 0) (i32.const 8))))
    (if (i32.eq (local.get $c) (i32.const 101)) (then (drop (i32.load offset=0xFFFFFFF0 (i32.const 0x20)))))
    (if (i32.eq (local.get $c) (i32.const 102)) (then (drop (i64.load (i32.sub (local.get $end) (i32.const 4))))))
    (call $out (i32.const 16) (i32.const 33))))
