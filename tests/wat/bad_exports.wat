;; Attacks the export contract: no memory export, no hongbao_alloc, and a hongbao_claim with the wrong
;; signature; the loader must refuse it and list all three problems.
(module
  (memory 1)
  (func (export "hongbao_abi_version") (result i32) i32.const 1)
  (func (export "hongbao_claim") (param i32) (result i32) i32.const 0))
