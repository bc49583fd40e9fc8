using Hangfire.PostgreSql;
using Npgsql;

namespace Mds.Migrations;

/// <summary>
/// Least privilege in PostgreSQL. The migrator connects as the owner of the schema; the backend and the workers log in
/// as their own roles, which this class creates (when given passwords) and grants after every migration:
/// <list type="bullet">
/// <item><see cref="Backend"/>: reads and writes every table of the public and hangfire schemas, but owns none: it cannot
/// change the schema, create tables or roles, or run anything as a superuser (COPY TO PROGRAM). It adds and drops the
/// audit log's day partitions through two SECURITY DEFINER functions made here.</item>
/// <item><see cref="Worker"/>: inserts into <c>inference_records</c> (nothing else of the registry: not even SELECT), and
/// has the narrowest Hangfire grants its order queue needs (see <see cref="GrantsSql"/>): it can fetch, acknowledge and
/// record the state of jobs on worker queues, but cannot create a job, change what a job runs, or touch the backend's
/// queues, recurring jobs or schedules.</item>
/// </list>
/// Everything here is idempotent; the grants are re-applied (the worker's revoked first) on every run.
/// </summary>
public static class DatabaseRoles
{
    /// <summary>The role the backend logs in as.</summary>
    public const string Backend = "mds_backend";

    /// <summary>The role the workers log in as.</summary>
    public const string Worker = "mds_worker";

    /// <summary>Creates <paramref name="role"/> (LOGIN, no other attribute) unless it exists, and sets its password.</summary>
    public static async Task EnsureRoleAsync(NpgsqlConnection connection, string role, string password, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(connection);
        ArgumentException.ThrowIfNullOrEmpty(password);
        if (role is not (Backend or Worker))
        {
            throw new ArgumentException($"unknown role {role}", nameof(role));
        }

        // A DO block cannot take parameters; the password is a quoted literal (standard_conforming_strings is on
        // since PostgreSQL 9.1) and the server stores only its SCRAM verifier.
        string literal = "'" + password.Replace("'", "''", StringComparison.Ordinal) + "'";
        string sql = $"""
            DO $$ BEGIN
              IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{role}') THEN
                BEGIN
                  CREATE ROLE {role} LOGIN;
                EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; -- created meanwhile by another migrator
                END;
              END IF;
            END $$;
            ALTER ROLE {role} WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS PASSWORD {literal};
            """;
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
    }

    /// <summary>
    /// Installs (or upgrades) Hangfire's schema as the owner, makes the partition functions and applies the grants to
    /// the roles that exist. Runs after the EF Core migrations.
    /// </summary>
    public static async Task ApplyAsync(NpgsqlConnection connection, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(connection);
        // The backend's storage would install it on start, but it no longer owns the schema.
        PostgreSqlObjectsInstaller.Install(connection);
        await using var tx = await connection.BeginTransactionAsync(ct).ConfigureAwait(false);
        await using (var command = new NpgsqlCommand(PartitionFunctionsSql + GrantsSql, connection, tx))
        {
            await command.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
        }

        await tx.CommitAsync(ct).ConfigureAwait(false);
    }

    /// <summary>
    /// The audit log's day partitions, added and dropped by the backend's hourly job. Creating a partition needs the
    /// parent's owner, so these run as the owner (SECURITY DEFINER, fixed search_path, a date as the only input) and
    /// only the backend may call them. New partitions belong to the owner; inserts and reads through the parent need
    /// only the parent's grants.
    /// </summary>
    private const string PartitionFunctionsSql = """
        CREATE OR REPLACE FUNCTION mds_audit_add_day(day date) RETURNS boolean
        LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $fn$
        DECLARE
          v_name text := 'inference_records_p' || to_char(day, 'YYYYMMDD');
          v_from text := to_char(day, 'YYYY-MM-DD') || ' 00:00:00+00';
          v_to text := to_char(day + 1, 'YYYY-MM-DD') || ' 00:00:00+00';
        BEGIN
          IF EXISTS (SELECT 1 FROM pg_class WHERE relname = v_name) THEN
            RETURN false;
          END IF;
          -- The default partition is locked first, so no row for this day can land there between the move and the attach.
          LOCK TABLE inference_records_default IN ACCESS EXCLUSIVE MODE;
          EXECUTE format('CREATE TABLE %I (LIKE inference_records INCLUDING DEFAULTS INCLUDING CONSTRAINTS)', v_name);
          EXECUTE format('INSERT INTO %I SELECT * FROM inference_records_default WHERE "Time" >= %L AND "Time" < %L', v_name, v_from, v_to);
          EXECUTE format('DELETE FROM inference_records_default WHERE "Time" >= %L AND "Time" < %L', v_from, v_to);
          EXECUTE format('ALTER TABLE inference_records ATTACH PARTITION %I FOR VALUES FROM (%L) TO (%L)', v_name, v_from, v_to);
          RETURN true;
        END $fn$;

        CREATE OR REPLACE FUNCTION mds_audit_drop_before(keep_from date) RETURNS integer
        LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $fn$
        DECLARE
          v_partition text;
          v_dropped integer := 0;
        BEGIN
          FOR v_partition IN
            SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_class p ON p.oid = i.inhparent
            WHERE p.relname = 'inference_records' AND c.relname ~ '^inference_records_p[0-9]{8}$'
          LOOP
            IF to_date(substr(v_partition, 20), 'YYYYMMDD') < keep_from THEN
              EXECUTE format('DROP TABLE %I', v_partition);
              v_dropped := v_dropped + 1;
            END IF;
          END LOOP;
          DELETE FROM inference_records_default WHERE "Time" < (to_char(keep_from, 'YYYY-MM-DD') || ' 00:00:00+00')::timestamptz;
          RETURN v_dropped;
        END $fn$;

        REVOKE ALL ON FUNCTION mds_audit_add_day(date), mds_audit_drop_before(date) FROM PUBLIC;

        """;

    /// <summary>
    /// The grants. A worker's Hangfire server (a lightweight one: no schedulers, no storage maintenance) runs, per
    /// order: fetch (UPDATE jobqueue SET fetchedat, updatecount … FOR UPDATE SKIP LOCKED; LISTEN), read the job and its
    /// parameters, take the job's state lock (INSERT/UPDATE/DELETE lock), move it to Processing and then Succeeded or
    /// Failed (INSERT state, UPDATE job's stateid, statename, expireat; INSERT counter for the statistics), acknowledge
    /// (DELETE jobqueue) or requeue on shutdown (UPDATE fetchedat); and announces itself (INSERT/UPDATE/DELETE server).
    /// It needs no INSERT on job or jobqueue (so it cannot create a job), no UPDATE of a job's invocation data or
    /// arguments (so it cannot change what one runs), and nothing of list, set, hash or aggregatedcounter (recurring
    /// jobs and schedules). Row-level security keeps its queue rows to worker queues: the backend's queues (backend,
    /// monitoring, batch) are invisible to it, so it can neither take nor delete nor move their jobs.
    /// </summary>
    private const string GrantsSql = """
        DO $grants$
        DECLARE
          db text := current_database();
        BEGIN
          IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'mds_backend') THEN
            EXECUTE format('GRANT CONNECT, TEMPORARY ON DATABASE %I TO mds_backend', db);
            GRANT USAGE ON SCHEMA public, hangfire TO mds_backend;
            GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public, hangfire TO mds_backend;
            GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA public, hangfire TO mds_backend;
            -- Tables, partitions and sequences the owner creates later (migrations, mds_audit_add_day).
            ALTER DEFAULT PRIVILEGES IN SCHEMA public, hangfire GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO mds_backend;
            ALTER DEFAULT PRIVILEGES IN SCHEMA public, hangfire GRANT USAGE, SELECT, UPDATE ON SEQUENCES TO mds_backend;
            GRANT EXECUTE ON FUNCTION mds_audit_add_day(date), mds_audit_drop_before(date) TO mds_backend;
          END IF;

          IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'mds_worker') THEN
            -- TEMPORARY: the audit writer's retries go through a session temp table.
            EXECUTE format('GRANT CONNECT, TEMPORARY ON DATABASE %I TO mds_worker', db);
            GRANT USAGE ON SCHEMA public, hangfire TO mds_worker;
            REVOKE ALL ON ALL TABLES IN SCHEMA public, hangfire FROM mds_worker;
            REVOKE ALL ON ALL SEQUENCES IN SCHEMA public, hangfire FROM mds_worker;
            GRANT INSERT ON inference_records TO mds_worker;

            GRANT SELECT ON hangfire.schema, hangfire.job, hangfire.state, hangfire.jobparameter, hangfire.jobqueue,
              hangfire.server, hangfire.lock TO mds_worker;
            GRANT UPDATE (stateid, statename, expireat) ON hangfire.job TO mds_worker;
            GRANT INSERT ON hangfire.state TO mds_worker;
            GRANT UPDATE (fetchedat, updatecount), DELETE ON hangfire.jobqueue TO mds_worker;
            GRANT INSERT, UPDATE, DELETE ON hangfire.server TO mds_worker;
            GRANT INSERT, UPDATE (updatecount, acquired), DELETE ON hangfire.lock TO mds_worker;
            GRANT INSERT ON hangfire.counter TO mds_worker;
            GRANT USAGE ON SEQUENCE hangfire.state_id_seq, hangfire.counter_id_seq TO mds_worker;

            ALTER TABLE hangfire.jobqueue ENABLE ROW LEVEL SECURITY;
            DROP POLICY IF EXISTS mds_all_queues ON hangfire.jobqueue;
            DROP POLICY IF EXISTS mds_worker_queues ON hangfire.jobqueue;
            CREATE POLICY mds_all_queues ON hangfire.jobqueue AS PERMISSIVE FOR ALL TO PUBLIC USING (true) WITH CHECK (true);
            CREATE POLICY mds_worker_queues ON hangfire.jobqueue AS RESTRICTIVE FOR ALL TO mds_worker
              USING (queue LIKE 'worker-%') WITH CHECK (queue LIKE 'worker-%');
          END IF;
        END $grants$;
        """;
}
