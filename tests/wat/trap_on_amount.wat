;; Attacks recovery: hits `unreachable` when the claim amount is exactly "0.13", allows otherwise.
(module
  (memory (export "memory") 2)
  (data (i32.const 16) "{\"verdict\":\"allow\",\"reason\":\"ok\"}")
  (data (i32.const 64) "\"amount\":\"0.13\"")
  (func (export "hongbao_abi_version") (result i32) i32.const 1)
  (func (export "hongbao_alloc") (param i32) (result i32) i32.const 8192)
  ;; 1 when the 15-byte needle at 64 occurs in hay[ptr..ptr+len]
  (func $contains (param $ptr i32) (param $len i32) (result i32)
    (local $i i32) (local $j i32) (local $ok i32)
    (block $no
      (loop $outer
        (br_if $no (i32.gt_s (i32.add (local.get $i) (i32.const 15)) (local.get $len)))
        (local.set $j (i32.const 0))
        (local.set $ok (i32.const 1))
        (block $mismatch
          (loop $inner
            (br_if $mismatch (i32.ge_u (local.get $j) (i32.const 15)))
            (if (i32.ne (i32.load8_u (i32.add (i32.add (local.get $ptr) (local.get $i)) (local.get $j)))
                        (i32.load8_u (i32.add (i32.const 64) (local.get $j))))
              (then (local.set $ok (i32.const 0)) (br $mismatch)))
            (local.set $j (i32.add (local.get $j) (i32.const 1)))
            (br $inner)))
        (if (local.get $ok) (then (return (i32.const 1))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $outer)))
    i32.const 0)
  (func (export "hongbao_claim") (param $p i32) (param $l i32) (result i64)
    (if (call $contains (local.get $p) (local.get $l)) (then unreachable))
    (i64.or (i64.shl (i64.const 16) (i64.const 32)) (i64.const 33))))
