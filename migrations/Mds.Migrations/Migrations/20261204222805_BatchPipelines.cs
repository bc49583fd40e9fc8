using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Mds.Migrations.Migrations
{
    /// <inheritdoc />
    public partial class BatchPipelines : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AlterColumn<long>(
                name: "ModelVersionId",
                table: "batches",
                type: "bigint",
                nullable: true,
                oldClrType: typeof(long),
                oldType: "bigint");

            migrationBuilder.AddColumn<long>(
                name: "PipelineId",
                table: "batches",
                type: "bigint",
                nullable: true);

            migrationBuilder.AddColumn<string>(
                name: "PipelineName",
                table: "batches",
                type: "character varying(100)",
                maxLength: 100,
                nullable: true);

            migrationBuilder.CreateIndex(
                name: "IX_batches_PipelineId",
                table: "batches",
                column: "PipelineId");

            migrationBuilder.CreateIndex(
                name: "IX_batches_PipelineName_CreatedAt",
                table: "batches",
                columns: new[] { "PipelineName", "CreatedAt" });

            migrationBuilder.AddCheckConstraint(
                name: "CK_batches_one_target",
                table: "batches",
                sql: "(\"ModelVersionId\" IS NULL) <> (\"PipelineId\" IS NULL)");

            migrationBuilder.AddForeignKey(
                name: "FK_batches_pipelines_PipelineId",
                table: "batches",
                column: "PipelineId",
                principalTable: "pipelines",
                principalColumn: "Id",
                onDelete: ReferentialAction.Cascade);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            // Pipeline batches have no model version to keep; their files go with the next cleanup job.
            migrationBuilder.Sql("DELETE FROM batches WHERE \"ModelVersionId\" IS NULL;");

            migrationBuilder.DropForeignKey(
                name: "FK_batches_pipelines_PipelineId",
                table: "batches");

            migrationBuilder.DropIndex(
                name: "IX_batches_PipelineId",
                table: "batches");

            migrationBuilder.DropIndex(
                name: "IX_batches_PipelineName_CreatedAt",
                table: "batches");

            migrationBuilder.DropCheckConstraint(
                name: "CK_batches_one_target",
                table: "batches");

            migrationBuilder.DropColumn(
                name: "PipelineId",
                table: "batches");

            migrationBuilder.DropColumn(
                name: "PipelineName",
                table: "batches");

            migrationBuilder.AlterColumn<long>(
                name: "ModelVersionId",
                table: "batches",
                type: "bigint",
                nullable: false,
                defaultValue: 0L,
                oldClrType: typeof(long),
                oldType: "bigint",
                oldNullable: true);
        }
    }
}
