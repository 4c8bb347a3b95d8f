using Google.Apis.Auth;
using Microsoft.AspNetCore.Http;

namespace SpotJax.Functions.Host;

/// <summary>
/// Checks a push's <c>Authorization: Bearer</c> OIDC token with Google.Apis.Auth: Google's signature,
/// issuer, expiry, the audience, and the expected, verified service account.
/// </summary>
public sealed class PushAuthenticator(PushAuthOptions options)
{
    /// <summary>Null when the caller is allowed; otherwise the status (401 or 403) and the reason.</summary>
    public async Task<(int Status, string Reason)?> CheckAsync(HttpRequest request)
    {
        var header = request.Headers.Authorization.ToString();
        if (!header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase) || header.Length <= "Bearer ".Length)
        {
            return (StatusCodes.Status401Unauthorized, "no bearer token");
        }

        GoogleJsonWebSignature.Payload payload;
        try
        {
            var validation = options.Validation ?? new GoogleJsonWebSignature.ValidationSettings();
            validation.Audience = [options.Audience];
            payload = await GoogleJsonWebSignature.ValidateAsync(header["Bearer ".Length..].Trim(), validation);
        }
        catch (InvalidJwtException e)
        {
            return (StatusCodes.Status401Unauthorized, $"invalid token: {e.Message}");
        }

        if (!payload.EmailVerified || !string.Equals(payload.Email, options.ServiceAccount, StringComparison.OrdinalIgnoreCase))
        {
            return (StatusCodes.Status403Forbidden, $"caller {payload.Email} is not {options.ServiceAccount}");
        }

        return null;
    }
}
