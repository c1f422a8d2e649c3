;; Attacks isolation between calls and between rules through reused memory: grows its memory by two pages,
;; scans all of it outside its own input for the bytes "secret-" and denies with reason leaked if found,
;; then copies its input (holding the caller's ids and settings) to the start of every page, so a later call
;; reusing the same memory slot would find it. Must allow every time.
(module
  (memory (export "memory") 2)
  (data (i32.const 16) "{\"verdict\":\"allow\",\"reason\":\"clean\"}")
  (data (i32.const 64) "{\"verdict\":\"deny\",\"reason\":\"leaked\"}")
  (func (export "hongbao_abi_version") (result i32) i32.const 1)
  (func (export "hongbao_alloc") (param i32) (result i32) i32.const 8192)
  (func (export "hongbao_claim") (param $p i32) (param $l i32) (result i64)
    (local $end i32) (local $i i32) (local $found i32)
    (drop (memory.grow (i32.const 2)))
    (local.set $end (i32.mul (memory.size) (i32.const 65536)))
    (block $done
      (loop $scan
        (br_if $done (i32.gt_u (i32.add (local.get $i) (i32.const 8)) (local.get $end)))
        (if (i32.and
              (i32.or (i32.lt_u (local.get $i) (local.get $p))
                      (i32.ge_u (local.get $i) (i32.add (local.get $p) (local.get $l))))
              (i64.eq (i64.and (i64.load (local.get $i)) (i64.const 0x00FFFFFFFFFFFFFF))
                      (i64.const 0x2d746572636573)))
          (then (local.set $found (i32.const 1)) (br $done)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $scan)))
    ;; leave this call's input everywhere a later call could look
    (local.set $i (i32.const 65536))
    (block $copied
      (loop $copy
        (br_if $copied (i32.gt_u (i32.add (i32.add (local.get $i) (i32.const 1024)) (local.get $l)) (local.get $end)))
        (memory.copy (i32.add (local.get $i) (i32.const 1024)) (local.get $p) (local.get $l))
        (local.set $i (i32.add (local.get $i) (i32.const 65536)))
        (br $copy)))
    (memory.copy (i32.const 1024) (local.get $p) (i32.const 4096))
    (if (result i64) (local.get $found)
      (then (i64.or (i64.shl (i64.const 64) (i64.const 32)) (i64.const 36)))
      (else (i64.or (i64.shl (i64.const 16) (i64.const 32)) (i64.const 36))))))
