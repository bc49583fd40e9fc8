using Hangfire;
using Hangfire.Common;
using Hangfire.PostgreSql;
using Hangfire.States;
using Mds.IntegrationTests.Infrastructure;
using Npgsql;

namespace Mds.IntegrationTests.Security;

/// <summary>
/// Least privilege in PostgreSQL: the workers' role may insert audit records and serve its own Hangfire queue, and
/// nothing else; the backend's Hangfire servers run only the jobs on its allow-list. (That the workers' role can still
/// write audit records is proven by the audit tests: MdsCluster starts every worker on it.)
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed class DatabaseRoleTests(MdsCluster cluster)
{
    [Theory]
    [InlineData("SELECT count(*) FROM models")]
    [InlineData("SELECT count(*) FROM \"AspNetUsers\"")]
    [InlineData("SELECT count(*) FROM api_keys")]
    [InlineData("SELECT count(*) FROM inference_records")]
    [InlineData("UPDATE models SET \"Description\" = 'owned'")]
    [InlineData("UPDATE \"AspNetUsers\" SET \"Email\" = 'attacker@example.com'")]
    [InlineData("DELETE FROM workers")]
    [InlineData("CREATE TABLE public.intruder (id int)")]
    public async Task A_workers_database_role_cannot_read_or_change_the_registry(string sql)
    {
        var denied = await Assert.ThrowsAsync<PostgresException>(() => RunAsync(cluster.WorkerConnectionString, sql));
        Assert.Equal(PostgresErrorCodes.InsufficientPrivilege, denied.SqlState);
    }

    [Theory]
    [InlineData("INSERT INTO hangfire.job (invocationdata, arguments, createdat) VALUES ('{}', '[]', now())")]
    [InlineData("UPDATE hangfire.job SET invocationdata = '{}'")]
    [InlineData("INSERT INTO hangfire.jobqueue (jobid, queue) VALUES (1, 'backend')")]
    [InlineData("UPDATE hangfire.jobqueue SET queue = 'backend'")]
    [InlineData("INSERT INTO hangfire.hash (key, field, value) VALUES ('recurring-job:x', 'Job', '{}')")]
    [InlineData("INSERT INTO hangfire.set (key, score, value) VALUES ('schedule', 0, '1')")]
    public async Task A_workers_database_role_cannot_create_or_redirect_a_Hangfire_job(string sql)
    {
        var denied = await Assert.ThrowsAsync<PostgresException>(() => RunAsync(cluster.WorkerConnectionString, sql));
        Assert.Equal(PostgresErrorCodes.InsufficientPrivilege, denied.SqlState);
    }

    [Fact]
    public async Task A_workers_database_role_does_not_see_the_backends_queues()
    {
        // Row-level security: the backend's recurring jobs are queued every second, but not for the worker's role.
        await Task.Delay(TimeSpan.FromSeconds(2));
        await using var connection = new NpgsqlConnection(cluster.WorkerConnectionString);
        await connection.OpenAsync();
        await using var count = new NpgsqlCommand("SELECT count(*) FROM hangfire.jobqueue WHERE queue NOT LIKE 'worker-%'", connection);
        Assert.Equal(0L, (long)(await count.ExecuteScalarAsync())!);
        await using var delete = new NpgsqlCommand("DELETE FROM hangfire.jobqueue WHERE queue = 'backend'", connection);
        Assert.Equal(0, await delete.ExecuteNonQueryAsync());
    }

    [Fact]
    public async Task The_backends_Hangfire_server_refuses_a_job_type_not_on_the_allow_list()
    {
        // Whoever can write Hangfire's tables (here the owner) puts a job of another type on the backend's queue.
        string marker = Path.Combine(Path.GetTempPath(), $"mds-injected-{Guid.NewGuid():N}");
        GlobalConfiguration.Configuration.SetDataCompatibilityLevel(CompatibilityLevel.Version_180).UseSimpleAssemblyNameTypeSerializer().UseRecommendedSerializerSettings();
        var options = new PostgreSqlStorageOptions { PrepareSchemaIfNecessary = false };
        var storage = new PostgreSqlStorage(new Hangfire.PostgreSql.Factories.NpgsqlConnectionFactory(cluster.ConnectionString, options), options);
        string id = new BackgroundJobClient(storage).Create(Job.FromExpression(() => File.WriteAllText(marker, "ran"), "backend"), new EnqueuedState("backend"));

        string? state = null;
        await Eventually.TrueAsync(async () =>
        {
            await using var connection = new NpgsqlConnection(cluster.ConnectionString);
            await connection.OpenAsync();
            await using var read = new NpgsqlCommand("SELECT statename FROM hangfire.job WHERE id = @id", connection);
            read.Parameters.AddWithValue("id", long.Parse(id, System.Globalization.CultureInfo.InvariantCulture));
            state = (string?)await read.ExecuteScalarAsync();
            return state is not null && state != EnqueuedState.StateName && state != ProcessingState.StateName;
        }, TimeSpan.FromSeconds(30), $"the injected job {id} to leave the queue (state {state})");

        Assert.Equal(FailedState.StateName, state);
        Assert.False(File.Exists(marker), "the injected job ran");
        await using (var connection = new NpgsqlConnection(cluster.ConnectionString))
        {
            await connection.OpenAsync();
            await using var reason = new NpgsqlCommand("SELECT reason FROM hangfire.state WHERE jobid = @id AND name = 'Failed'", connection);
            reason.Parameters.AddWithValue("id", long.Parse(id, System.Globalization.CultureInfo.InvariantCulture));
            Assert.Equal("not on the backend's job allow-list", (string?)await reason.ExecuteScalarAsync());
        }
    }

    private static async Task RunAsync(string connectionString, string sql)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync();
    }
}
