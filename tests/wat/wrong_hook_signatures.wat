;; Attacks the export contract: both hooks exported under their ABI names with the wrong signature (claim
;; returns i32, payout takes one i64) and hongbao_alloc exported as a global; the loader must refuse it and
;; name every bad export with the signature it has and the one expected.
(module
  (memory (export "memory") 1)
  (global (export "hongbao_alloc") i32 (i32.const 1024))
  (func (export "hongbao_abi_version") (result i32) i32.const 1)
  (func (export "hongbao_claim") (param i32 i32) (result i32) i32.const 0)
  (func (export "hongbao_payout") (param i64) (result i64) i64.const 0))
