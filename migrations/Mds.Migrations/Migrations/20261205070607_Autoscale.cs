using System;
using Microsoft.EntityFrameworkCore.Migrations;
using Npgsql.EntityFrameworkCore.PostgreSQL.Metadata;

#nullable disable

namespace Mds.Migrations.Migrations
{
    /// <inheritdoc />
    public partial class Autoscale : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<int>(
                name: "Waiting",
                table: "replicas",
                type: "integer",
                nullable: false,
                defaultValue: 0);

            migrationBuilder.AddColumn<int>(
                name: "TargetLatencyMs",
                table: "model_versions",
                type: "integer",
                nullable: true);

            migrationBuilder.CreateTable(
                name: "gateway_load",
                columns: table => new
                {
                    Id = table.Column<long>(type: "bigint", nullable: false)
                        .Annotation("Npgsql:ValueGenerationStrategy", NpgsqlValueGenerationStrategy.IdentityByDefaultColumn),
                    Backend = table.Column<string>(type: "character varying(200)", maxLength: 200, nullable: false),
                    ModelVersionId = table.Column<long>(type: "bigint", nullable: false),
                    Outstanding = table.Column<double>(type: "double precision", nullable: false),
                    Requests = table.Column<int>(type: "integer", nullable: false),
                    P95Ms = table.Column<double>(type: "double precision", nullable: true),
                    UpdatedAt = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_gateway_load", x => x.Id);
                });

            migrationBuilder.CreateTable(
                name: "scaling_events",
                columns: table => new
                {
                    Id = table.Column<long>(type: "bigint", nullable: false)
                        .Annotation("Npgsql:ValueGenerationStrategy", NpgsqlValueGenerationStrategy.IdentityByDefaultColumn),
                    ModelVersionId = table.Column<long>(type: "bigint", nullable: false),
                    At = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false),
                    FromReplicas = table.Column<int>(type: "integer", nullable: false),
                    ToReplicas = table.Column<int>(type: "integer", nullable: false),
                    Reason = table.Column<string>(type: "character varying(1000)", maxLength: 1000, nullable: false),
                    By = table.Column<string>(type: "character varying(256)", maxLength: 256, nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_scaling_events", x => x.Id);
                    table.ForeignKey(
                        name: "FK_scaling_events_model_versions_ModelVersionId",
                        column: x => x.ModelVersionId,
                        principalTable: "model_versions",
                        principalColumn: "Id",
                        onDelete: ReferentialAction.Cascade);
                });

            migrationBuilder.CreateIndex(
                name: "IX_gateway_load_Backend_ModelVersionId",
                table: "gateway_load",
                columns: new[] { "Backend", "ModelVersionId" },
                unique: true);

            migrationBuilder.CreateIndex(
                name: "IX_gateway_load_UpdatedAt",
                table: "gateway_load",
                column: "UpdatedAt");

            migrationBuilder.CreateIndex(
                name: "IX_scaling_events_ModelVersionId_At",
                table: "scaling_events",
                columns: new[] { "ModelVersionId", "At" });
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "gateway_load");

            migrationBuilder.DropTable(
                name: "scaling_events");

            migrationBuilder.DropColumn(
                name: "Waiting",
                table: "replicas");

            migrationBuilder.DropColumn(
                name: "TargetLatencyMs",
                table: "model_versions");
        }
    }
}
