using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Mds.Migrations.Migrations
{
    /// <inheritdoc />
    public partial class AuditCost : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            // The request and response of each inference record: json instead of jsonb. Nothing queries inside them with
            // jsonb operators (the backend reads them whole; -> and ->> work on json too), and jsonb's parse of every row
            // written (each number becomes a numeric) was about a quarter of PostgreSQL's CPU per record
            // (docs/benchmarks.md, "Audit on ÷ off (issue M2-F)"). Rewrites every partition under an exclusive lock:
            // workers' writes wait (or spill) meanwhile. A worker reads the column type in each write's transaction and
            // encodes for it, so workers of this release write either type; earlier workers only jsonb: upgrade the
            // workers before running this migration (docs/operations.md).
            migrationBuilder.Sql("""
                ALTER TABLE inference_records
                    ALTER COLUMN "Request" TYPE json USING "Request"::json,
                    ALTER COLUMN "Response" TYPE json USING "Response"::json;
                """);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.Sql("""
                ALTER TABLE inference_records
                    ALTER COLUMN "Request" TYPE jsonb USING "Request"::jsonb,
                    ALTER COLUMN "Response" TYPE jsonb USING "Response"::jsonb;
                """);
        }
    }
}
