;; Attacks instantiation: the start function loops forever, before any hook can run. It runs under the
;; call's fuel and deadline, so the load-time probe stops it and the rule is refused, never hangs the loader.
(module
  (memory (export "memory") 2)
  (func $start (loop $forever (br $forever)))
  (start $start)
  (func (export "hongbao_abi_version") (result i32) i32.const 1)
  (func (export "hongbao_alloc") (param i32) (result i32) i32.const 8192)
  (func (export "hongbao_claim") (param i32 i32) (result i64) i64.const 0))
