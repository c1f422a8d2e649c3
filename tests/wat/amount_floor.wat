;; A real rule written by hand from rules-sdk/ABI.md, no SDK: parses the request's
;; "amount" string into integer fen (never a float) and denies when amount >= 4.81,
;; echoing the exact amount text it saw in its note (case M09).
(module
  (import "hongbao" "log" (func $log (param i32 i32 i32)))
  (memory (export "memory") 2)
  (global $bump (mut i32) (i32.const 16384))
  (data (i32.const 32) "\"amount\":\"")
  (data (i32.const 64) "{\"verdict\":\"allow\",\"reason\":\"below_4_81\",\"note\":\"")
  (data (i32.const 128) "{\"verdict\":\"deny\",\"reason\":\"at_least_4_81\",\"note\":\"")
  (data (i32.const 192) "{\"error\":\"no amount in input\"}")
  (data (i32.const 240) "amount parsed")
  (func (export "hongbao_abi_version") (result i32) i32.const 1)
  ;; bump allocator: the instance is discarded after the call, so nothing is freed
  (func (export "hongbao_alloc") (param $len i32) (result i32)
    (local $p i32)
    (local.set $p (global.get $bump))
    (global.set $bump (i32.add (global.get $bump) (local.get $len)))
    (if (i32.gt_u (global.get $bump) (i32.mul (memory.size) (i32.const 65536)))
      (then (if (i32.eq (memory.grow (i32.const 2)) (i32.const -1)) (then (return (i32.const 0))))))
    (local.get $p))
  ;; offset just after `"amount":"` in the input, or 0
  (func $find (param $p i32) (param $l i32) (result i32)
    (local $i i32) (local $j i32)
    (block $no
      (loop $outer
        (br_if $no (i32.gt_s (i32.add (local.get $i) (i32.const 10)) (local.get $l)))
        (local.set $j (i32.const 0))
        (block $mismatch
          (loop $inner
            (if (i32.ge_u (local.get $j) (i32.const 10))
              (then (return (i32.add (i32.add (local.get $p) (local.get $i)) (i32.const 10)))))
            (br_if $mismatch (i32.ne (i32.load8_u (i32.add (i32.add (local.get $p) (local.get $i)) (local.get $j)))
                                     (i32.load8_u (i32.add (i32.const 32) (local.get $j)))))
            (local.set $j (i32.add (local.get $j) (i32.const 1)))
            (br $inner)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $outer)))
    i32.const 0)
  ;; copies `len` bytes from `src` to `dst`, returns dst + len
  (func $put (param $dst i32) (param $src i32) (param $len i32) (result i32)
    (memory.copy (local.get $dst) (local.get $src) (local.get $len))
    (i32.add (local.get $dst) (local.get $len)))
  (func $pack (param $ptr i32) (param $len i32) (result i64)
    (i64.or (i64.shl (i64.extend_i32_u (local.get $ptr)) (i64.const 32))
            (i64.extend_i32_u (local.get $len))))
  (func (export "hongbao_claim") (param $p i32) (param $l i32) (result i64)
    (local $s i32) (local $i i32) (local $c i32) (local $fen i64) (local $dec i32) (local $seen_dot i32)
    (local $out i32) (local $n i32)
    (local.set $s (call $find (local.get $p) (local.get $l)))
    (if (i32.eqz (local.get $s)) (then (return (call $pack (i32.const 192) (i32.const 30)))))
    ;; digits up to the closing quote; at most two decimals
    (block $end
      (loop $digits
        (local.set $c (i32.load8_u (i32.add (local.get $s) (local.get $i))))
        (br_if $end (i32.eq (local.get $c) (i32.const 34)))
        (if (i32.eq (local.get $c) (i32.const 46))
          (then (local.set $seen_dot (i32.const 1)))
          (else
            (local.set $fen (i64.add (i64.mul (local.get $fen) (i64.const 10))
                                     (i64.extend_i32_u (i32.sub (local.get $c) (i32.const 48)))))
            (if (local.get $seen_dot) (then (local.set $dec (i32.add (local.get $dec) (i32.const 1)))))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $digits)))
    (if (i32.eqz (local.get $dec)) (then (local.set $fen (i64.mul (local.get $fen) (i64.const 100)))))
    (if (i32.eq (local.get $dec) (i32.const 1)) (then (local.set $fen (i64.mul (local.get $fen) (i64.const 10)))))
    (call $log (i32.const 0) (i32.const 240) (i32.const 13))
    ;; output = head + amount text + "\"}"
    (local.set $out (i32.const 32768))
    (if (i64.ge_u (local.get $fen) (i64.const 481))
      (then (local.set $n (call $put (local.get $out) (i32.const 128) (i32.const 51))))
      (else (local.set $n (call $put (local.get $out) (i32.const 64) (i32.const 49)))))
    (local.set $n (call $put (local.get $n) (local.get $s) (local.get $i)))
    (i32.store8 (local.get $n) (i32.const 34))
    (i32.store8 (i32.add (local.get $n) (i32.const 1)) (i32.const 125))
    (call $pack (local.get $out) (i32.sub (i32.add (local.get $n) (i32.const 2)) (local.get $out)))))
