DROP INDEX users_erased_at;
