/**
 * Default corpus the test tokenizer learns its BPE merges from: plain English prose on everyday subjects,
 * written for this project, so token counts on English look like a real model's (about 4 characters per token).
 */
export const ENGLISH_SAMPLE = `
The river rises in the hills to the north of the town and runs for about forty miles before it reaches the sea. For most of the year it is slow and shallow, but in early spring, when the snow melts in the mountains, it can climb several feet in a single night. The people who live along its banks have learned to watch the water closely. Older houses stand on stone foundations, and many families keep a small boat tied near the back door.

In the middle of the town there is a market that has been held every Saturday for more than three hundred years. Farmers bring vegetables, cheese, eggs and bread from the surrounding villages. In the summer the stalls are full of strawberries, cherries and fresh herbs; in the autumn there are apples, pears, pumpkins and honey. Visitors often say that the market is the best place to understand the character of the region, because everyone comes there sooner or later.

The history of the region is older than the town itself. Archaeologists have found the remains of a settlement from the late Bronze Age on the hill above the river, including pottery, tools and the outline of several round houses. Later the area became part of a Roman province, and a road was built along the valley to connect two military camps. Parts of that road can still be seen today, although most of it lies under modern fields.

During the Middle Ages the town grew because of the wool trade. Merchants bought wool from the farms in the hills and sent it down the river to the port, where it was loaded onto ships bound for other countries. The wealth from this trade paid for the large church in the main square, whose tower can be seen from almost every part of the valley. The church was finished in the fifteenth century and has been repaired many times since then.

Science begins with careful observation. A scientist notices something that seems unusual, asks a question about it, and then proposes an explanation that can be tested. An experiment is designed so that only one factor changes at a time, while everything else is kept the same. If the results agree with the prediction, the explanation becomes more likely to be correct; if they do not, the explanation must be changed or abandoned. Over time, ideas that survive many tests become part of accepted knowledge.

Water is one of the most important substances on Earth. It covers about seventy percent of the surface of the planet and makes up most of the body of every living thing. Water can exist as a solid, a liquid or a gas within the range of temperatures found naturally on Earth. When water freezes it expands, which is why ice floats and why pipes can burst in winter. The movement of water between the oceans, the air and the land is called the water cycle.

The human heart is a muscle about the size of a closed fist. It beats around seventy times a minute when the body is at rest, pumping blood through a network of vessels that would stretch for thousands of miles if they were laid end to end. Blood carries oxygen from the lungs to the tissues and brings carbon dioxide back to be breathed out. Regular exercise, a balanced diet and enough sleep all help to keep the heart healthy.

Computers store information as long sequences of ones and zeros. A single binary digit is called a bit, and eight bits make a byte. Text, pictures, sound and video are all represented by numbers that the computer can process very quickly. A program is a list of instructions that tells the computer what to do with those numbers. Modern software is usually written in high level languages that are easier for people to read and are then translated into the simple operations the machine understands.

Learning a new language takes patience. At first even simple sentences seem difficult, and it is easy to feel discouraged. Most teachers recommend a little practice every day rather than long sessions once a week. Listening to music, reading short stories and talking with native speakers all help. After a few months many learners find that they can follow a conversation, and after a few years they may begin to think in the new language without translating.

The library opened its doors in the spring of the following year. It had a reading room with tall windows, a children's corner with small chairs and brightly painted shelves, and a quiet study area on the upper floor. Within a month more than two thousand people had signed up for library cards. The librarian, a retired teacher, said that she had never seen so many young readers in one place.

Good cooking depends on good ingredients and on paying attention. A soup should simmer gently rather than boil, so that the flavours have time to develop. Bread needs warmth and time to rise, and the dough should be kneaded until it feels smooth and elastic. Many cooks say that the most important tool in the kitchen is not a knife or a pan but the habit of tasting the food as it cooks and adjusting the seasoning.

The weather in the valley changes quickly. A bright morning can turn into a stormy afternoon, with heavy rain and strong winds coming in from the west. Farmers keep an eye on the clouds over the hills, because they often give a warning an hour or two before the rain arrives. In winter the temperature may fall below freezing for several weeks, and the river sometimes freezes along its edges.

Trains first reached the town in the middle of the nineteenth century. The railway company built a station near the river and a bridge to carry the line across the valley. Suddenly it was possible to travel to the capital in a single day, a journey that had once taken almost a week by coach. The railway brought new industries, new workers and new ideas, and the population of the town doubled within twenty years.

Plants make their own food by using the energy of sunlight. In a process called photosynthesis, they take in carbon dioxide from the air and water from the soil and turn them into sugar and oxygen. The green pigment in their leaves, chlorophyll, absorbs the light that drives this reaction. Almost all life on Earth depends on photosynthesis, either directly or indirectly, because it supplies the food and the oxygen that animals need.

The committee met on Tuesday evening to discuss the plans for the new park. Several members were worried about the cost, while others argued that the town needed more green space for families and children. After a long discussion they agreed to ask the council for a grant and to hold a public meeting next month so that residents could give their opinions. The chair thanked everyone for their patience and closed the meeting shortly after nine o'clock.

Stars are huge balls of hot gas that produce light and heat through nuclear reactions in their cores. The nearest star to Earth is the Sun, which is about one hundred and fifty million kilometres away. Other stars are so distant that their light takes many years to reach us. On a clear night, far from city lights, a person can see a few thousand stars with the naked eye, but telescopes reveal billions more, grouped into vast systems called galaxies.

Children learn a great deal through play. When they build towers from blocks, they are learning about balance and gravity. When they pretend to run a shop, they practise counting, speaking and sharing. Researchers who study early education have found that time for free play is not wasted time; it helps children develop creativity, confidence and the ability to solve problems on their own.

The old mill stood at the edge of the village for almost two centuries. Its wheel was turned by water from a narrow channel that had been dug from the river, and it ground wheat and barley for the farms nearby. When electric machines made the mill unnecessary, it was closed and slowly fell into ruin. A group of volunteers later restored the building, and today it is a small museum where visitors can watch the great stones turn once again.

Money is a tool that makes trade easier. Before money existed, people had to exchange goods directly, which was difficult if one person wanted fish and the other had only shoes. Coins made from valuable metals solved this problem, and later paper notes and bank accounts made payments even simpler. Today many payments are made electronically, and the money itself is often no more than a number recorded in a computer.

"Where are you going?" she asked, looking up from her book. "Just to the shop," he replied. "We have run out of milk, and I thought I might buy some bread as well." She smiled and said that she would come with him, because she wanted to walk in the fresh air after a long day at work. They put on their coats, locked the door and set off down the hill together.

Questions and answers: What is the capital of the country? How many people live in the city? When was the bridge built, and who designed it? Why did the factory close? Which team won the championship last year? A good answer is short, accurate and based on the information given. If the information is not available, it is better to say so than to guess.
`;
