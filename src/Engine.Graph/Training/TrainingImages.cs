using CoAR.Engine.Graph.Generation;
using CoAR.Engine.Graph.Imaging;
using CoAR.Engine.Managed.Imaging;

namespace CoAR.Engine.Graph.Training;

/// <summary>
/// The concept's images as the trainer draws them: photos, each scaled once to cover its best Lumina crop size and
/// cut and encoded at the crop a pass draws (a seeded random offset every pass, as Lumina's data loader does, or the
/// center), or fixed token sequences (images that are tokens already, as the planted-concept benchmark's).
/// </summary>
public sealed class TrainingImages
{
    private readonly IReadOnlyList<TrainingExample>? _examples;
    private readonly Photo[]? _photos;
    private readonly VqganModel? _vqgan;
    private readonly ImageTokenIds? _ids;
    private readonly CropMode _crop;
    private readonly int _seed;

    // Encoded crops by (photo, left, top): a photo's crop slack is small (the cover scale leaves at most a few dozen
    // offsets), so every crop is encoded once however many passes draw it.
    private readonly Dictionary<(int, int, int), TrainingExample> _encoded = new();

    private sealed record Photo(string Source, RgbImage Covered, CropSize Crop, ImageLayout Layout);

    private TrainingImages(IReadOnlyList<TrainingExample> examples)
    {
        if (examples.Count == 0) throw new ArgumentException("training needs at least one image of the concept");
        _examples = examples;
    }

    private TrainingImages(Photo[] photos, VqganModel vqgan, ImageTokenIds ids, CropMode crop, int seed)
    {
        _photos = photos;
        _vqgan = vqgan;
        _ids = ids;
        _crop = crop;
        _seed = seed;
    }

    public static TrainingImages FromExamples(IReadOnlyList<TrainingExample> examples) => new(examples);

    /// <summary>
    /// Reads every photo now (an unreadable one is an <see cref="InvalidDataException"/> naming it, before any other
    /// work) and scales it to cover its crop size at <paramref name="resolution"/>.
    /// </summary>
    public static TrainingImages FromFiles(IReadOnlyList<string> files, int resolution, VqganModel vqgan, ImageTokenIds ids, CropMode crop, int seed)
    {
        if (files.Count == 0) throw new ArgumentException("training needs at least one image of the concept");
        var photos = new Photo[files.Count];
        for (int i = 0; i < files.Count; i++)
        {
            var image = Load(files[i]);
            var size = ImagePreprocessor.CropFor(image, resolution, files[i]);
            photos[i] = new Photo(files[i], ImagePreprocessor.Cover(image, size), size, ImageLayout.For(size.Width, size.Height, ids));
        }
        return new TrainingImages(photos, vqgan, ids, crop, seed);
    }

    /// <summary>An image file through the engine's decode limits; one that cannot be read is an <see cref="InvalidDataException"/> naming it.</summary>
    public static RgbImage Load(string file)
    {
        try
        {
            return ImageFile.Load(file);
        }
        catch (Exception e) when (e is UnauthorizedAccessException or IOException and not FileNotFoundException)
        {
            throw new InvalidDataException($"{file}: cannot be read ({e.Message})", e);
        }
    }

    public int Count => _examples?.Count ?? _photos!.Length;

    /// <summary>The longest image-phase token sequence any draw can give.</summary>
    public int MaxImageTokens => _examples?.Max(e => e.ImageTokens.Length) ?? _photos!.Max(p => p.Layout.SequenceLength);

    /// <summary>Where item <paramref name="item"/> came from (a file, or the example's source).</summary>
    public string Source(int item) => _examples?[item].Source ?? _photos![item].Source;

    /// <summary>Item <paramref name="item"/> as pass <paramref name="pass"/> sees it (its crop drawn for that pass).</summary>
    public TrainingExample Draw(int item, long pass)
    {
        if (_examples is not null) return _examples[item];
        var p = _photos![item];
        if (_crop == CropMode.Center) return Centered(item);
        int left = TrainingDraws.Offset(_seed, TrainingDraws.Stream.CropLeft, pass, p.Covered.Width - p.Crop.Width);
        int top = TrainingDraws.Offset(_seed, TrainingDraws.Stream.CropTop, pass, p.Covered.Height - p.Crop.Height);
        return Encoded(item, left, top);
    }

    /// <summary>Item <paramref name="item"/> center-cropped: what the frozen model's statistics (initialization, CASR) are taken on.</summary>
    public TrainingExample Centered(int item)
    {
        if (_examples is not null) return _examples[item];
        var p = _photos![item];
        return Encoded(item, (p.Covered.Width - p.Crop.Width) / 2, (p.Covered.Height - p.Crop.Height) / 2);
    }

    private TrainingExample Encoded(int item, int left, int top)
    {
        if (_encoded.TryGetValue((item, left, top), out var known)) return known;
        var p = _photos![item];
        var pixels = ImagePreprocessor.ToModelInput(p.Covered.Crop(left, top, p.Crop.Width, p.Crop.Height));
        var example = TrainingExample.FromCodes(p.Source, p.Layout, _vqgan!.Encode(pixels));
        _encoded[(item, left, top)] = example;
        return example;
    }
}
