using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Mds.Migrations.Migrations
{
    /// <inheritdoc />
    public partial class AuditPrimaryKey : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            // Primary key (Time, Id) instead of (Id, Time): it serves "newest first" and time ranges, so the separate
            // index on Time goes — one index fewer to maintain for every row a worker writes. Records are found by id
            // through the id's UUIDv7 millisecond (InferenceRecordQueries.WithId).
            migrationBuilder.Sql("""
                ALTER TABLE inference_records DROP CONSTRAINT "PK_inference_records";
                ALTER TABLE inference_records ADD CONSTRAINT "PK_inference_records" PRIMARY KEY ("Time", "Id");
                DROP INDEX "IX_inference_records_Time";
                """);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.Sql("""
                CREATE INDEX "IX_inference_records_Time" ON inference_records ("Time");
                ALTER TABLE inference_records DROP CONSTRAINT "PK_inference_records";
                ALTER TABLE inference_records ADD CONSTRAINT "PK_inference_records" PRIMARY KEY ("Id", "Time");
                """);
        }
    }
}
