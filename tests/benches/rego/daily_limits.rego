# The daily-limits sample rule (sample-rules/daily-limits) written in Rego,
# for the regorus comparison bench. Input: the ABI's JSON object, unchanged.
# Output: {"verdict", "reason"} as the Rust rule answers (without its note),
# or {"error"} for settings the Rust rule refuses. Amounts are parsed as
# integer fen, never as floats, like the Rust rule does.
package hongbao.daily_limits

import rego.v1

max_claims := object.get(input.settings, "max_claims", 10)

max_amount := object.get(input.settings, "max_amount", "1000.00")

# "12.30" as 1230 fen; undefined for anything but digits "." two digits.
fen(s) := n if {
	is_string(s)
	regex_free_match(s)
	parts := split(s, ".")
	frac := split(parts[1], "")
	n := ((to_number(parts[0]) * 100) + (indexof("0123456789", frac[0]) * 10)) + indexof("0123456789", frac[1])
}

regex_free_match(s) if {
	parts := split(s, ".")
	count(parts) == 2
	count(parts[0]) > 0
	count(parts[1]) == 2
	digits(parts[0])
	digits(parts[1])
}

digits(t) if {
	every c in split(t, "") {
		indexof("0123456789", c) >= 0
	}
}

settings_error := "setting max_claims must be at least 1" if {
	not is_number(max_claims)
} else := "setting max_claims must be at least 1" if {
	max_claims < 1
} else := "setting max_amount must be above 0.00" if {
	not fen(max_amount)
} else := "setting max_amount must be above 0.00" if {
	fen(max_amount) == 0
} else := "unknown setting" if {
	some k, _ in input.settings
	not k in {"max_claims", "max_amount"}
}

decision := {"error": settings_error} if {
	settings_error
} else := {"verdict": "deny", "reason": "daily_claim_count"} if {
	input.facts.user_claims_today >= max_claims
} else := {"verdict": "deny", "reason": "daily_claim_amount"} if {
	fen(input.facts.user_claimed_today) + fen(input.request.amount) > fen(max_amount)
} else := {"verdict": "allow", "reason": "ok"}
