;; Attacks failure handling (case R01): a merchant rule "deny if the device is blocklisted" that traps
;; on `unreachable` when the claim has no device id ("device_id":null) instead of answering.
;; Denies device dev-bl-1 with reason blocked_device; allows everything else.
(module
  (memory (export "memory") 2)
  (data (i32.const 16) "{\"verdict\":\"allow\",\"reason\":\"ok\"}")
  (data (i32.const 64) "{\"verdict\":\"deny\",\"reason\":\"blocked_device\"}")
  (data (i32.const 128) "\"device_id\":null")
  (data (i32.const 160) "\"device_id\":\"dev-bl-1\"")
  (func (export "hongbao_abi_version") (result i32) i32.const 1)
  (func (export "hongbao_alloc") (param i32) (result i32) i32.const 8192)
  ;; 1 when needle[0..nlen] occurs in hay[0..hlen]
  (func $contains (param $hay i32) (param $hlen i32) (param $needle i32) (param $nlen i32) (result i32)
    (local $i i32) (local $j i32)
    (block $no
      (loop $outer
        (br_if $no (i32.gt_s (i32.add (local.get $i) (local.get $nlen)) (local.get $hlen)))
        (local.set $j (i32.const 0))
        (block $mismatch
          (loop $inner
            (if (i32.ge_u (local.get $j) (local.get $nlen)) (then (return (i32.const 1))))
            (br_if $mismatch (i32.ne (i32.load8_u (i32.add (i32.add (local.get $hay) (local.get $i)) (local.get $j)))
                                     (i32.load8_u (i32.add (local.get $needle) (local.get $j)))))
            (local.set $j (i32.add (local.get $j) (i32.const 1)))
            (br $inner)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $outer)))
    i32.const 0)
  (func $out (param $ptr i32) (param $len i32) (result i64)
    (i64.or (i64.shl (i64.extend_i32_u (local.get $ptr)) (i64.const 32))
            (i64.extend_i32_u (local.get $len))))
  (func (export "hongbao_claim") (param $p i32) (param $l i32) (result i64)
    ;; the bug: no device id is not handled, the rule just falls over
    (if (call $contains (local.get $p) (local.get $l) (i32.const 128) (i32.const 16)) (then unreachable))
    (if (call $contains (local.get $p) (local.get $l) (i32.const 160) (i32.const 22))
      (then (return (call $out (i32.const 64) (i32.const 44)))))
    (call $out (i32.const 16) (i32.const 33))))
