using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Mds.Migrations.Migrations
{
    /// <inheritdoc />
    public partial class ModelVersionCounter : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<int>(
                name: "LastVersion",
                table: "models",
                type: "integer",
                nullable: false,
                defaultValue: 0);

            // Existing models continue from their highest version (numbers of versions deleted before this ran are lost).
            migrationBuilder.Sql("""UPDATE models m SET "LastVersion" = COALESCE((SELECT max(v."Version") FROM model_versions v WHERE v."ModelId" = m."Id"), 0);""");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropColumn(
                name: "LastVersion",
                table: "models");
        }
    }
}
