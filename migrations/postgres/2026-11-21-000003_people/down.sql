DROP TABLE coproducers;
DROP TABLE audit_log;
DROP TABLE equal_opportunities;
DROP TABLE access_passports;
DROP TABLE profile_interests;
DROP TABLE profile_skills;
DROP TABLE profiles;
