DROP TABLE delegations;
DROP TABLE approval_log;
DROP TABLE approval_votes;
DROP TABLE approvals;
DROP TABLE phase_approvals;
