Console.WriteLine("mixlora");
