"""The leaves: small modules every layer may use (redaction, retry backoff, JSON bounds, logging,
yes/no words, the one cross-process lock, the NoETL step context, validation errors). They import
nothing of the package but `errors`; importing this package imports none of them."""
