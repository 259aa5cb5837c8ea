DROP TABLE payment_run_claims;
DROP TABLE payment_runs;
