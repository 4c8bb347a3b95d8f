using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;

namespace SpotJax.Core.Jobs;

/// <summary>
/// Job ids derived from the submission, so a redelivered message or event names the same job
/// and can never create a second one.
/// </summary>
public static partial class JobId
{
    // 30 + "-" + 10 hex leaves room for "-<attempt>" within the 63 characters of a TPU node id.
    private const int MaxSlugLength = 30;
    private const int HashLength = 10;

    /// <summary>
    /// <c>&lt;slug of name&gt;-&lt;first 10 hex of SHA-256(submissionKey)&gt;</c>, for example
    /// <c>llama-pretrain-3f9a0c12be</c>. Always matches <c>^[a-z][a-z0-9-]{0,40}[a-z0-9]$</c>.
    /// </summary>
    /// <param name="name">The job's human name; only ASCII letters and digits survive in the slug.</param>
    /// <param name="submissionKey">What identifies the submission, such as the Pub/Sub message id or the manifest object's generation.</param>
    public static string From(string name, string submissionKey)
    {
        ArgumentNullException.ThrowIfNull(name);
        ArgumentNullException.ThrowIfNull(submissionKey);

        var slug = Slug(name);
        if (slug.Length == 0 || !char.IsAsciiLetterLower(slug[0]))
        {
            slug = "job-" + slug;
        }

        if (slug.Length > MaxSlugLength)
        {
            slug = slug[..MaxSlugLength];
        }

        slug = slug.TrimEnd('-');
        var hash = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(submissionKey)));
        return $"{slug}-{hash[..HashLength]}";
    }

    /// <summary>Whether an id arriving in a message is well formed: <c>^[a-z][a-z0-9-]{1,49}[a-z0-9]$</c>.</summary>
    public static bool IsValid(string? id) => id is not null && ValidId().IsMatch(id);

    // ASCII only, by hand: culture-aware lowering would let the same name give different ids on different hosts.
    private static string Slug(string name)
    {
        var slug = new StringBuilder(name.Length);
        var pendingDash = false;
        foreach (var c in name)
        {
            if (char.IsAsciiLetterOrDigit(c))
            {
                if (pendingDash && slug.Length > 0)
                {
                    slug.Append('-');
                }

                pendingDash = false;
                slug.Append(char.IsAsciiLetterUpper(c) ? (char)(c + ('a' - 'A')) : c);
            }
            else
            {
                pendingDash = true;
            }
        }

        return slug.ToString();
    }

    [GeneratedRegex(@"^[a-z][a-z0-9-]{1,49}[a-z0-9]\z", RegexOptions.CultureInvariant)]
    private static partial Regex ValidId();
}
