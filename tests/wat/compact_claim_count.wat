;; A real rule written by hand in WAT from rules-sdk/ABI.md section 5b, no SDK: it speaks
;; ABI version 2, walks the compact input by its lengths (checking each against the input's
;; end), and denies a claim when facts.user_claims_today >= 10. A malformed input is an
;; explicit error, never a verdict.
(module
  (memory (export "memory") 1)
  (global $bump (mut i32) (i32.const 1024))
  (data (i32.const 16) "{\"verdict\":\"allow\",\"reason\":\"ok\"}")
  (data (i32.const 64) "{\"verdict\":\"deny\",\"reason\":\"daily_claim_count\"}")
  (data (i32.const 128) "{\"error\":\"input is not a version 2 claim\"}")
  (func (export "hongbao_abi_version") (result i32) i32.const 2)
  ;; bump allocator: the instance is discarded after the call, so nothing is freed
  (func (export "hongbao_alloc") (param $len i32) (result i32)
    (local $p i32)
    (local.set $p (global.get $bump))
    (global.set $bump (i32.add (global.get $bump) (local.get $len)))
    (if (i32.gt_u (global.get $bump) (i32.mul (memory.size) (i32.const 65536)))
      (then (if (i32.eq (memory.grow (i32.const 2)) (i32.const -1)) (then (return (i32.const 0))))))
    (local.get $p))
  ;; the offset just past a u32-length-prefixed field at $pos, or -1 when it runs past $end
  (func $skip (param $pos i32) (param $end i32) (result i32)
    (local $n i32)
    (if (i32.gt_u (i32.add (local.get $pos) (i32.const 4)) (local.get $end))
      (then (return (i32.const -1))))
    (local.set $n (i32.load (local.get $pos)))
    ;; compare as unsigned with the bytes left, so a huge length cannot wrap around
    (if (i32.gt_u (local.get $n) (i32.sub (local.get $end) (i32.add (local.get $pos) (i32.const 4))))
      (then (return (i32.const -1))))
    (i32.add (local.get $pos) (i32.add (local.get $n) (i32.const 4))))
  (func $out (param $ptr i32) (param $len i32) (result i64)
    (i64.or (i64.shl (i64.extend_i32_u (local.get $ptr)) (i64.const 32))
            (i64.extend_i32_u (local.get $len))))
  (func (export "hongbao_claim") (param $ptr i32) (param $len i32) (result i64)
    (local $pos i32) (local $end i32) (local $facts i32)
    (local.set $end (i32.add (local.get $ptr) (local.get $len)))
    (block $bad
      ;; abi_version (u32) is 2, and the hook byte comes later
      (br_if $bad (i32.lt_u (local.get $len) (i32.const 4)))
      (br_if $bad (i32.ne (i32.load (local.get $ptr)) (i32.const 2)))
      (local.set $pos (i32.add (local.get $ptr) (i32.const 4)))
      ;; rule_id, settings
      (local.set $pos (call $skip (local.get $pos) (local.get $end)))
      (br_if $bad (i32.eq (local.get $pos) (i32.const -1)))
      (local.set $pos (call $skip (local.get $pos) (local.get $end)))
      (br_if $bad (i32.eq (local.get $pos) (i32.const -1)))
      ;; hook (u8, 0 for claim) and now (i64)
      (br_if $bad (i32.gt_u (i32.add (local.get $pos) (i32.const 9)) (local.get $end)))
      (br_if $bad (i32.ne (i32.load8_u (local.get $pos)) (i32.const 0)))
      (local.set $pos (i32.add (local.get $pos) (i32.const 9)))
      ;; the request section, skipped by its length
      (local.set $pos (call $skip (local.get $pos) (local.get $end)))
      (br_if $bad (i32.eq (local.get $pos) (i32.const -1)))
      ;; the facts section: it must reach user_claims_today (offset 13, 4 bytes)
      (br_if $bad (i32.eq (call $skip (local.get $pos) (local.get $end)) (i32.const -1)))
      (br_if $bad (i32.lt_u (i32.load (local.get $pos)) (i32.const 17)))
      (local.set $facts (i32.add (local.get $pos) (i32.const 4)))
      (if (i32.ge_u (i32.load (i32.add (local.get $facts) (i32.const 13))) (i32.const 10))
        (then (return (call $out (i32.const 64) (i32.const 47)))))
      (return (call $out (i32.const 16) (i32.const 33))))
    (call $out (i32.const 128) (i32.const 42))))
