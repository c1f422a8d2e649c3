;; Attacks instantiation: the start function recurses without end, so the stack limit must stop it at load.
(module
  (memory (export "memory") 2)
  (func $down (param $n i32) (result i32) (i32.add (call $down (i32.add (local.get $n) (i32.const 1))) (i32.const 1)))
  (func $start (drop (call $down (i32.const 0))))
  (start $start)
  (func (export "hongbao_abi_version") (result i32) i32.const 1)
  (func (export "hongbao_alloc") (param i32) (result i32) i32.const 8192)
  (func (export "hongbao_claim") (param i32 i32) (result i64) i64.const 0))
