namespace CoAR.Engine.Tools;

/// <summary>
/// The English text the tiny model's BPE merges are learned from: Lumina-style prompt text, so prompts encode into
/// a handful of real merged tokens rather than single bytes.
/// </summary>
internal static class TinyCorpus
{
    public const string Text = """
        Generate an image of 768x768 according to the following prompt:
        A photo of a small brown dog sitting on a wooden bench in a green park, soft morning light.
        Generate an image of 512x512 according to the following prompt:
        A photo of a cat sleeping on a red blanket next to a window, warm evening light.
        Generate an image of 1024x1024 according to the following prompt:
        A painting of a mountain lake at sunset in the style of an old oil painting, with pine trees and a wooden boat.
        A photo of a dog running on the beach with the sea and the blue sky behind it.
        A photo of a red car parked in front of a white house with a green door.
        A close up photo of a cup of coffee on a wooden table, with a book and a pair of glasses.
        A watercolor painting of a city street in the rain, people walking with umbrellas, in the style of an artist.
        A photo of a teddy bear sitting in the snow under a pine tree, bright winter light.
        A painting of a dog wearing a red hat, in the style of a children's book illustration.
        A high quality photo of a small backpack on a rock next to a river in the mountains.
        A photo of the same dog sitting on a sofa in a living room with plants and a lamp.
        A digital art image of a robot standing in a field of flowers under a blue sky with white clouds.
        The image shows a cat and a dog playing together on the grass in a sunny garden.
        A detailed photo of a vase with yellow flowers on a table next to the window, in soft light.
        A photo of a toy car on the floor of a bright room, with a white wall and a wooden chair.
        A painting in the style of a famous artist, with bold colors and strong brush strokes, showing a quiet village.
        A photo of a bird standing on a branch of a tree in the forest, morning light through the leaves.
        A portrait photo of a young woman with long brown hair, smiling, in front of a yellow wall.
        A photo of an old man reading a newspaper on a park bench, with pigeons around his feet.
        An illustration of a castle on a hill above a small town, with a river and a stone bridge.
        A photo of a plate of pasta with tomato sauce and fresh basil on a white kitchen counter.
        A cartoon drawing of a happy orange cat wearing sunglasses and playing a guitar on the stage.
        A realistic photo of a sports car driving along a coastal road at golden hour, motion blur.
        A photo of a colorful hot air balloon floating over green fields and distant mountains.
        A pencil sketch of a horse running across an open field, with dust rising behind it.
        A photo of a wooden cabin in a snowy forest at night, warm light glowing from the windows.
        A painting of a still life with apples, grapes and a glass bottle on a dark wooden table.
        A photo of a child building a sand castle on the beach, with waves and seagulls in the background.
        A photo of a modern living room with a grey sofa, a round coffee table and large windows.
        Generate an image of 512x512 according to the following prompt:
        A photo of a sks dog wearing a blue scarf, sitting in front of a red brick wall.
        Generate an image of 768x768 according to the following prompt:
        A painting of a sks cat in the style of a famous painting, with swirling blue and yellow colors.
        Generate an image of 768x768 according to the following prompt:
        A photo of a dog in the snow, a photo of a cat on the sofa, a photo of a bear in the forest.
        """;
}
