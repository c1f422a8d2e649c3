;; Attacks determinism: makes NaNs from nine different operations (0/0, sqrt(-1), inf-inf, min, arithmetic on a
;; signalling NaN with a payload, f32<->f64 conversions), writes each result's bits in hex into its note, and
;; allows with reason canonical only when every one is the canonical quiet NaN (else denies: not_canonical).
;; Without NaN canonicalisation the bits depend on the CPU (x86 gives the sign-set default NaN for 0/0).
(module
  (memory (export "memory") 2)
  ;; operands in mutable globals, so the compiler cannot fold the operations away
  (global $zero64 (mut f64) (f64.const 0))
  (global $minus_one64 (mut f64) (f64.const -1))
  (global $inf64 (mut f64) (f64.const inf))
  (global $snan64 (mut i64) (i64.const 0x7FF4000000000001))
  (global $zero32 (mut f32) (f32.const 0))
  (global $minus_one32 (mut f32) (f32.const -1))
  (global $snan32 (mut i32) (i32.const 0x7FA00001))
  (data (i32.const 16) "{\"verdict\":\"allow\",\"reason\":\"canonical\",\"note\":\"")
  (data (i32.const 128) "{\"verdict\":\"deny\",\"reason\":\"not_canonical\",\"note\":\"")
  (func (export "hongbao_abi_version") (result i32) i32.const 1)
  (func (export "hongbao_alloc") (param i32) (result i32) i32.const 8192)
  ;; writes the low `digits` nibbles of $v as lowercase hex at $dst; returns the next free address
  (func $hex (param $v i64) (param $digits i32) (param $dst i32) (result i32)
    (local $n i32) (local $nib i32)
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $n) (local.get $digits)))
        (local.set $nib (i32.wrap_i64 (i64.and
          (i64.shr_u (local.get $v) (i64.extend_i32_u (i32.mul (i32.const 4) (i32.sub (i32.sub (local.get $digits) (i32.const 1)) (local.get $n)))))
          (i64.const 15))))
        (i32.store8 (i32.add (local.get $dst) (local.get $n))
          (i32.add (local.get $nib) (select (i32.const 48) (i32.const 87) (i32.lt_u (local.get $nib) (i32.const 10)))))
        (local.set $n (i32.add (local.get $n) (i32.const 1)))
        (br $next)))
    (i32.store8 (i32.add (local.get $dst) (local.get $digits)) (i32.const 32))
    (i32.add (i32.add (local.get $dst) (local.get $digits)) (i32.const 1)))
  (func (export "hongbao_claim") (param i32 i32) (result i64)
    (local $f64s i32) (local $f32s i32) (local $ok i32) (local $at i32) (local $start i32) (local $bits i64) (local $bits32 i32)
    ;; f64 results, stored at 4096.. (8 bytes each)
    (f64.store (i32.const 4096) (f64.div (global.get $zero64) (global.get $zero64)))
    (f64.store (i32.const 4104) (f64.sqrt (global.get $minus_one64)))
    (f64.store (i32.const 4112) (f64.sub (global.get $inf64) (global.get $inf64)))
    (f64.store (i32.const 4120) (f64.add (f64.reinterpret_i64 (global.get $snan64)) (global.get $zero64)))
    (f64.store (i32.const 4128) (f64.min (f64.reinterpret_i64 (global.get $snan64)) (global.get $minus_one64)))
    (f64.store (i32.const 4136) (f64.promote_f32 (f32.reinterpret_i32 (global.get $snan32))))
    ;; f32 results, stored at 4160.. (4 bytes each)
    (f32.store (i32.const 4160) (f32.div (global.get $zero32) (global.get $zero32)))
    (f32.store (i32.const 4164) (f32.mul (f32.reinterpret_i32 (global.get $snan32)) (global.get $minus_one32)))
    (f32.store (i32.const 4168) (f32.demote_f64 (f64.reinterpret_i64 (global.get $snan64))))
    (local.set $ok (i32.const 1))
    (local.set $at (i32.const 2048))
    (local.set $f64s (i32.const 0))
    (block $done64
      (loop $each64
        (br_if $done64 (i32.ge_u (local.get $f64s) (i32.const 6)))
        (local.set $bits (i64.load (i32.add (i32.const 4096) (i32.mul (local.get $f64s) (i32.const 8)))))
        (if (i64.ne (local.get $bits) (i64.const 0x7FF8000000000000)) (then (local.set $ok (i32.const 0))))
        (local.set $at (call $hex (local.get $bits) (i32.const 16) (local.get $at)))
        (local.set $f64s (i32.add (local.get $f64s) (i32.const 1)))
        (br $each64)))
    (block $done32
      (loop $each32
        (br_if $done32 (i32.ge_u (local.get $f32s) (i32.const 3)))
        (local.set $bits32 (i32.load (i32.add (i32.const 4160) (i32.mul (local.get $f32s) (i32.const 4)))))
        (if (i32.ne (local.get $bits32) (i32.const 0x7FC00000)) (then (local.set $ok (i32.const 0))))
        (local.set $at (call $hex (i64.extend_i32_u (local.get $bits32)) (i32.const 8) (local.get $at)))
        (local.set $f32s (i32.add (local.get $f32s) (i32.const 1)))
        (br $each32)))
    ;; the note's last space becomes the closing quote and brace
    (local.set $at (i32.sub (local.get $at) (i32.const 1)))
    (i32.store8 (local.get $at) (i32.const 34))
    (i32.store8 (i32.add (local.get $at) (i32.const 1)) (i32.const 125))
    (local.set $at (i32.add (local.get $at) (i32.const 2)))
    ;; prefix: allow (48 bytes) or deny (51 bytes), placed right before the note
    (if (local.get $ok)
      (then (local.set $start (i32.sub (i32.const 2048) (i32.const 48)))
            (memory.copy (local.get $start) (i32.const 16) (i32.const 48)))
      (else (local.set $start (i32.sub (i32.const 2048) (i32.const 51)))
            (memory.copy (local.get $start) (i32.const 128) (i32.const 51))))
    (i64.or (i64.shl (i64.extend_i32_u (local.get $start)) (i64.const 32))
            (i64.extend_i32_u (i32.sub (local.get $at) (local.get $start))))))
