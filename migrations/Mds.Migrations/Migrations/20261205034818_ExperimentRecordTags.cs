using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Mds.Migrations.Migrations
{
    /// <inheritdoc />
    public partial class ExperimentRecordTags : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            // inference_records is created by hand (partitioned; excluded from EF's migrations): columns added to the
            // parent reach every partition. A constant default adds no rewrite (PostgreSQL 11+). The partial index serves
            // the audit log's experiment filter and per-candidate reads without costing the many untagged rows anything.
            migrationBuilder.Sql("""
                ALTER TABLE inference_records
                    ADD COLUMN "Experiment" text NULL,
                    ADD COLUMN "Candidate" text NULL,
                    ADD COLUMN "Mirror" boolean NOT NULL DEFAULT false;
                CREATE INDEX "IX_inference_records_Experiment_Time" ON inference_records ("Experiment", "Time") WHERE "Experiment" IS NOT NULL;
                """);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.Sql("""
                DROP INDEX "IX_inference_records_Experiment_Time";
                ALTER TABLE inference_records DROP COLUMN "Experiment", DROP COLUMN "Candidate", DROP COLUMN "Mirror";
                """);
        }
    }
}
