;; Attacks instantiation: the start function grows memory a page at a time until growth fails; the memory
;; limit applies to the start function too, so the rule is refused at load with a memory-limit reason.
(module
  (memory (export "memory") 2)
  (func $start
    (block $done
      (loop $grow
        (br_if $done (i32.eq (memory.grow (i32.const 1)) (i32.const -1)))
        (br $grow))))
  (start $start)
  (func (export "hongbao_abi_version") (result i32) i32.const 1)
  (func (export "hongbao_alloc") (param i32) (result i32) i32.const 8192)
  (func (export "hongbao_claim") (param i32 i32) (result i64) i64.const 0))
