;; Attacks isolation: keeps a mutable global `seen` and a static 64-byte buffer across calls.
;; Denies when `seen` is set, else allows; either way its note is the buffer's contents
;; (the previous caller's user id, if state survived), then it sets `seen` and copies
;; the start of this call's input into the buffer.
(module
  (memory (export "memory") 2)
  (global $seen (mut i32) (i32.const 0))
  ;; output buffer at 1024: {"verdict":"allow","reason":"ok","note":"<64 bytes>"}
  (data (i32.const 1024) "{\"verdict\":\"allow\",\"reason\":\"state\",\"note\":\"")
  (func (export "hongbao_abi_version") (result i32) i32.const 1)
  (func (export "hongbao_alloc") (param i32) (result i32) i32.const 8192)
  (func (export "hongbao_claim") (param $p i32) (param $l i32) (result i64)
    (local $i i32) (local $n i32) (local $b i32)
    ;; verdict: "allow" -> "deny " is not valid JSON, so switch the verdict text in place
    (if (global.get $seen)
      (then
        ;; overwrite "allow" at 1024+12 with "deny\"" + padding is awkward; use "freeze" length 6 vs 5.
        ;; Instead write review? Keep it simple: d,e,n,y,"
        (i32.store8 (i32.const 1036) (i32.const 100))
        (i32.store8 (i32.const 1037) (i32.const 101))
        (i32.store8 (i32.const 1038) (i32.const 110))
        (i32.store8 (i32.const 1039) (i32.const 121))
        (i32.store8 (i32.const 1040) (i32.const 34))
        (i32.store8 (i32.const 1041) (i32.const 32))))
    ;; note: copy printable bytes of the 64-byte buffer at 512 (0 bytes end it)
    (local.set $n (i32.const 1068))
    (block $end
      (loop $copy
        (br_if $end (i32.ge_u (local.get $i) (i32.const 64)))
        (local.set $b (i32.load8_u (i32.add (i32.const 512) (local.get $i))))
        (br_if $end (i32.eqz (local.get $b)))
        ;; keep only [a-z0-9-], so the note stays valid JSON
        (if (i32.or (i32.or (i32.and (i32.ge_u (local.get $b) (i32.const 97)) (i32.le_u (local.get $b) (i32.const 122)))
                            (i32.and (i32.ge_u (local.get $b) (i32.const 48)) (i32.le_u (local.get $b) (i32.const 57))))
                    (i32.eq (local.get $b) (i32.const 45)))
          (then
            (i32.store8 (local.get $n) (local.get $b))
            (local.set $n (i32.add (local.get $n) (i32.const 1)))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $copy)))
    (i32.store8 (local.get $n) (i32.const 34))
    (i32.store8 (i32.add (local.get $n) (i32.const 1)) (i32.const 125))
    ;; remember: set seen, copy the input's user id region (search-free: the first 64 input bytes after "user_id":")
    (global.set $seen (i32.const 1))
    (memory.copy (i32.const 512) (call $user_id (local.get $p) (local.get $l)) (i32.const 64))
    (i64.or (i64.shl (i64.const 1024) (i64.const 32))
            (i64.extend_i32_u (i32.sub (i32.add (local.get $n) (i32.const 2)) (i32.const 1024)))))
  ;; address of the value of "user_id" in the input, or the input start
  (data (i32.const 256) "\"user_id\":\"")
  (func $user_id (param $p i32) (param $l i32) (result i32)
    (local $i i32) (local $j i32)
    (block $no
      (loop $outer
        (br_if $no (i32.gt_s (i32.add (local.get $i) (i32.const 11)) (local.get $l)))
        (local.set $j (i32.const 0))
        (block $mismatch
          (loop $inner
            (if (i32.ge_u (local.get $j) (i32.const 11))
              (then (return (i32.add (i32.add (local.get $p) (local.get $i)) (i32.const 11)))))
            (br_if $mismatch (i32.ne (i32.load8_u (i32.add (i32.add (local.get $p) (local.get $i)) (local.get $j)))
                                     (i32.load8_u (i32.add (i32.const 256) (local.get $j)))))
            (local.set $j (i32.add (local.get $j) (i32.const 1)))
            (br $inner)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $outer)))
    (local.get $p)))
