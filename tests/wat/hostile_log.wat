;; Attacks the host import: calls hongbao.log with invalid UTF-8, a zero length, or a pointer past memory,
;; chosen by the first digit of the claim amount ("1" bad UTF-8, "2" zero length, "3" out of bounds).
(module
  (import "hongbao" "log" (func $log (param i32 i32 i32)))
  (memory (export "memory") 2)
  (data (i32.const 16) "\ff\fe\fd")
  (data (i32.const 32) "\"amount\":\"")
  (data (i32.const 64) "{\"verdict\":\"allow\",\"reason\":\"ok\"}")
  (func (export "hongbao_abi_version") (result i32) i32.const 1)
  (func (export "hongbao_alloc") (param i32) (result i32) i32.const 8192)
  ;; the byte after "amount":" in the input, or 0
  (func $amount_digit (param $p i32) (param $l i32) (result i32)
    (local $i i32) (local $j i32)
    (block $no
      (loop $outer
        (br_if $no (i32.gt_s (i32.add (local.get $i) (i32.const 11)) (local.get $l)))
        (local.set $j (i32.const 0))
        (block $mismatch
          (loop $inner
            (if (i32.ge_u (local.get $j) (i32.const 10))
              (then (return (i32.load8_u (i32.add (i32.add (local.get $p) (local.get $i)) (i32.const 10))))))
            (br_if $mismatch (i32.ne (i32.load8_u (i32.add (i32.add (local.get $p) (local.get $i)) (local.get $j)))
                                     (i32.load8_u (i32.add (i32.const 32) (local.get $j)))))
            (local.set $j (i32.add (local.get $j) (i32.const 1)))
            (br $inner)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $outer)))
    i32.const 0)
  (func (export "hongbao_claim") (param $p i32) (param $l i32) (result i64)
    (local $d i32)
    (local.set $d (call $amount_digit (local.get $p) (local.get $l)))
    (if (i32.eq (local.get $d) (i32.const 49)) (then (call $log (i32.const 1) (i32.const 16) (i32.const 3))))
    (if (i32.eq (local.get $d) (i32.const 50)) (then (call $log (i32.const 1) (i32.const 16) (i32.const 0))))
    (if (i32.eq (local.get $d) (i32.const 51)) (then (call $log (i32.const 1) (i32.const 131000) (i32.const 100))))
    (i64.or (i64.shl (i64.const 64) (i64.const 32)) (i64.const 33))))
