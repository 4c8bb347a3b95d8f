namespace SpotJax.Google.Firestore;

/// <summary>
/// One element of a <c>:runQuery</c> answer, a JSON array (the HTTP form of a server stream): most
/// carry a document; an empty result is a single element with only <c>readTime</c> (and <c>done</c>).
/// </summary>
internal sealed record RunQueryResponse
{
    public FirestoreDocument? Document { get; init; }

    public string? ReadTime { get; init; }

    public bool? Done { get; init; }
}
