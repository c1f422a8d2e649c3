;; Attacks the native stack with no host calls: unbounded recursion, each level keeping eight i64 locals live
;; across the call; it must end with stack-overflow, never abort the process.
(module
  (memory (export "memory") 2)
  (func (export "hongbao_abi_version") (result i32) i32.const 1)
  (func (export "hongbao_alloc") (param i32) (result i32) i32.const 8192)
  (func $down (param $n i64) (result i64)
    (local $a i64) (local $b i64) (local $c i64) (local $d i64)
    (local $e i64) (local $f i64) (local $g i64) (local $h i64)
    (local.set $a (i64.mul (local.get $n) (i64.const 3)))
    (local.set $b (i64.add (local.get $a) (i64.const 5)))
    (local.set $c (i64.xor (local.get $b) (local.get $n)))
    (local.set $d (i64.sub (local.get $c) (local.get $a)))
    (local.set $e (i64.mul (local.get $d) (local.get $b)))
    (local.set $f (i64.or (local.get $e) (local.get $c)))
    (local.set $g (i64.add (local.get $f) (local.get $d)))
    (local.set $h (i64.add (local.get $g) (local.get $e)))
    (i64.add
      (call $down (i64.add (local.get $n) (i64.const 1)))
      (i64.add (i64.add (i64.add (local.get $a) (local.get $b)) (i64.add (local.get $c) (local.get $d)))
               (i64.add (i64.add (local.get $e) (local.get $f)) (i64.add (local.get $g) (local.get $h))))))
  (func (export "hongbao_claim") (param i32 i32) (result i64)
    (call $down (i64.const 0))))
