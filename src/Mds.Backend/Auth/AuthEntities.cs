using Microsoft.AspNetCore.Identity;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;

namespace Mds.Backend.Auth;

/// <summary>A person who signs in (ASP.NET Core Identity user).</summary>
public sealed class MdsUser : IdentityUser
{
    public DateTimeOffset CreatedAt { get; set; }
}

/// <summary>An API key for programs: only its SHA-256 is stored; the prefix finds it.</summary>
public sealed class ApiKey
{
    public long Id { get; set; }
    public required string UserId { get; set; }
    public MdsUser User { get; set; } = null!;
    public required string Name { get; set; }
    /// <summary>The public part that identifies the key (<c>mds_XXXXXXXX</c>).</summary>
    public required string Prefix { get; set; }
    /// <summary>SHA-256 of the whole key, hex.</summary>
    public required string KeyHash { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
    public DateTimeOffset? LastUsedAt { get; set; }
    public DateTimeOffset? RevokedAt { get; set; }
    /// <summary>When the key stops working; null: until it is revoked.</summary>
    public DateTimeOffset? ExpiresAt { get; set; }
}

internal sealed class ApiKeyConfiguration : IEntityTypeConfiguration<ApiKey>
{
    public void Configure(EntityTypeBuilder<ApiKey> b)
    {
        b.ToTable("api_keys");
        b.Property(k => k.Name).HasMaxLength(128);
        b.Property(k => k.Prefix).HasMaxLength(32);
        b.HasIndex(k => k.Prefix).IsUnique();
        b.Property(k => k.KeyHash).HasMaxLength(64);
        b.HasOne(k => k.User).WithMany().HasForeignKey(k => k.UserId).OnDelete(DeleteBehavior.Cascade);
    }
}
