using System.ComponentModel.DataAnnotations;

namespace Mds.Portal;

/// <summary>The portal's settings, bound from <c>Mds:Portal</c>.</summary>
public sealed class PortalOptions
{
    /// <summary>The configuration section these options are bound from.</summary>
    public const string Section = "Mds:Portal";

    /// <summary>The backend's REST base address (<c>Mds:Portal:BackendUrl</c>).</summary>
    [Required]
    public Uri BackendUrl { get; set; } = new("http://127.0.0.1:5080");

    /// <summary>
    /// Mark the sign-in cookie Secure even on plain-HTTP requests (<c>Mds:Portal:SecureCookie</c>): set it when a TLS proxy
    /// in front of the portal talks HTTP to it. Without it the cookie is Secure exactly when the request is HTTPS.
    /// </summary>
    public bool SecureCookie { get; set; }

    /// <summary>
    /// How often a page whose backend could not be reached (no answer, or 502/503/504) loads again on its own until it
    /// succeeds (<c>Mds:Portal:BackendRetryInterval</c>, default 5 s), so the page recovers when the backend is back
    /// without the user pressing Try again. Pages that refresh on an interval already do.
    /// </summary>
    public TimeSpan BackendRetryInterval { get; set; } = TimeSpan.FromSeconds(5);
}
