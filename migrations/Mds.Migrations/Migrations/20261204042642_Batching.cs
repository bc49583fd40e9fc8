using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Mds.Migrations.Migrations
{
    /// <inheritdoc />
    public partial class Batching : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<int>(
                name: "MaxBatchLatencyMicroseconds",
                table: "model_versions",
                type: "integer",
                nullable: true);

            migrationBuilder.AddColumn<int>(
                name: "MaxBatchSize",
                table: "model_versions",
                type: "integer",
                nullable: true);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropColumn(
                name: "MaxBatchLatencyMicroseconds",
                table: "model_versions");

            migrationBuilder.DropColumn(
                name: "MaxBatchSize",
                table: "model_versions");
        }
    }
}
