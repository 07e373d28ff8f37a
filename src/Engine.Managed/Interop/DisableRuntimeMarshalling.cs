using System.Runtime.CompilerServices;

// Every native signature in this assembly is blittable (pointers, nint, integers, enums); strings are UTF-8 byte
// pointers we marshal ourselves. Disabling runtime marshalling makes the compiler reject anything else.
[assembly: DisableRuntimeMarshalling]
