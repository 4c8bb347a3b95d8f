namespace SpotJax.Google.Firestore;

/// <summary>One page of a <c>ListDocuments</c> answer; an empty collection is <c>{}</c>.</summary>
internal sealed record FirestoreDocumentPage
{
    public IReadOnlyList<FirestoreDocument>? Documents { get; init; }

    public string? NextPageToken { get; init; }
}
