using CoAR.Engine.Graph.Model;
using CoAR.Engine.Graph.Text;

namespace CoAR.Engine.Graph.Concepts;

/// <summary>
/// A prompt with concepts bound in: the token ids (text slots where the placeholders stood, then each concept's image
/// slots), an identity tag per token, and the context-token injections (token indices relative to the sequence start,
/// table rows of <see cref="ContextTable"/>).
/// </summary>
public sealed record ConceptSequence(int[] Tokens, int[] Tags, IReadOnlyList<ContextInjection> Injections)
{
    /// <summary>
    /// Binds concepts to a built prompt (their vectors are read from <paramref name="table"/>, which may hold more concepts). Text slots: the prompt's slots of each concept's placeholder (slot j of every
    /// occurrence gets the concept's text vector j). Image slots: each concept's image slots appended in concept order
    /// (subjects first is the caller's order). With <paramref name="identityMask"/>, concept c's slots carry tag c + 1,
    /// so two concepts never attend to each other; without it every tag is 0. With <paramref name="indexEmbeddings"/>,
    /// a concept that has an index vector gets it added at the input of layer 0 to every token of its source: its text
    /// slots, the word right after each of its placeholders (its class noun), its image slots, and every token of the
    /// reference images it owns (<paramref name="imageOwners"/>: a placeholder or null per image of the prompt). An owned
    /// image's tokens carry their concept's identity tag, like its slots.
    /// </summary>
    public static ConceptSequence Build(PromptTokens prompt, IReadOnlyList<Concept> concepts, ContextTable table, bool identityMask,
        int imageSlotFiller, bool withImageSlots = true, bool indexEmbeddings = true, IReadOnlyList<string?>? imageOwners = null)
    {
        var tokens = new List<int>(prompt.Ids);
        var tags = new List<int>(new int[prompt.Ids.Length]);
        var injections = new List<ContextInjection>();
        foreach (var slot in prompt.TextSlots)
        {
            int c = IndexOf(concepts, slot.Placeholder);
            var concept = concepts[c];
            if (concept.TextSlots == 0)
                throw new ArgumentException($"placeholder '{slot.Placeholder}' is bound to a concept without text tokens");
            if (slot.Positions.Count % concept.TextSlots != 0)
                throw new ArgumentException($"placeholder '{slot.Placeholder}' has {slot.Positions.Count} slot positions, not a multiple of the concept's {concept.TextSlots} text tokens");
            for (int i = 0; i < slot.Positions.Count; i++)
            {
                int p = slot.Positions[i], j = i % concept.TextSlots;
                injections.Add(new ContextInjection(p, table.TextRow(table.IndexOf(concept), 0, j), concept.TextSlots, concept.Depth));
                tags[p] = identityMask ? c + 1 : 0;
            }
            if (indexEmbeddings && concept.Index is not null)
                foreach (int p in slot.Positions.Concat(slot.WordPositions))
                    injections.Add(IndexAt(p, table, concept));
        }
        if (imageOwners is not null && imageOwners.Count != prompt.Images.Count)
            throw new ArgumentException($"{imageOwners.Count} image owners for the prompt's {prompt.Images.Count} reference image(s)");
        for (int i = 0; i < prompt.Images.Count; i++)
        {
            if (imageOwners?[i] is not { } owner) continue;
            int c = IndexOf(concepts, owner);
            var span = prompt.Images[i];
            for (int t = span.Start; t < span.Start + span.Length; t++)
            {
                // The image is the concept's: under the mask another concept's tokens do not see it.
                tags[t] = identityMask ? c + 1 : 0;
                if (indexEmbeddings && concepts[c].Index is not null)
                    injections.Add(IndexAt(t, table, concepts[c]));
            }
        }
        if (withImageSlots)
        {
            for (int c = 0; c < concepts.Count; c++)
            {
                for (int j = 0; j < concepts[c].ImageSlots; j++)
                {
                    injections.Add(new ContextInjection(tokens.Count, table.ImageRow(table.IndexOf(concepts[c]), 0, j), concepts[c].ImageSlots, concepts[c].Depth));
                    if (indexEmbeddings && concepts[c].Index is not null)
                        injections.Add(IndexAt(tokens.Count, table, concepts[c]));
                    tokens.Add(imageSlotFiller);
                    tags.Add(identityMask ? c + 1 : 0);
                }
            }
        }
        return new ConceptSequence(tokens.ToArray(), tags.ToArray(), injections);
    }

    /// <summary>The concept's index vector added to token <paramref name="token"/> at the input of layer 0.</summary>
    private static ContextInjection IndexAt(int token, ContextTable table, Concept concept) =>
        new(token, table.IndexRow(table.IndexOf(concept)), Stride: 0, Depth: 1) { Add = true };

    private static int IndexOf(IReadOnlyList<Concept> concepts, string placeholder)
    {
        for (int c = 0; c < concepts.Count; c++)
            if (concepts[c].Placeholder == placeholder) return c;
        throw new ArgumentException($"placeholder '{placeholder}' is in the prompt (or owns a reference image) but no concept is bound to it");
    }

    /// <summary>The same sequence shifted to start at packed token <paramref name="offset"/>.</summary>
    public IEnumerable<ContextInjection> InjectionsAt(int offset) =>
        Injections.Select(i => i with { Token = i.Token + offset });
}
