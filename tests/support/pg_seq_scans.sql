-- The tables most read by sequential scans since the statistics were
-- reset, one line: a statement that should look rows up by key but reads
-- a table whole shows there. For the benchmarks' PostgreSQL reports
-- (src/server/bench_server_pg.sh, bench/fleet/run_fleet.sh).
SELECT 'rows read by sequential scans (pg_stat_user_tables): ' ||
       coalesce(string_agg(relname || ' ' || seq_tup_read || ' in ' || seq_scan ||
                           ' scans', ', ' ORDER BY seq_tup_read DESC), 'none')
FROM (SELECT relname, seq_tup_read, seq_scan FROM pg_stat_user_tables
      WHERE seq_tup_read > 0 ORDER BY seq_tup_read DESC LIMIT 6) t;
