# ruff: noqa: RUF001 (full-width and CJK punctuation are the test data)
"""A fixed corpus for measuring memory search quality.

Five users' memories (219 in all: what a user told an assistant and what it
answered), in English, French, Portuguese names, Chinese and Japanese, and 52
queries, each with the memories a careful reader would count as relevant.
Relevance was judged on meaning, not on shared words: a memory about the
user's cat Miso is relevant to "cat" even where it only says "Miso". Query
kinds: ``keyword`` (a few search words, as a person types them) and
``question`` (a longer request, as a model passes to ``load_memory``).

Everything is plain data and deterministic; ``quality.py`` turns it into
sessions and events.
"""

from __future__ import annotations

from typing import Literal, NamedTuple

__all__ = ["MEMORIES", "QUERIES", "Memory", "Query"]


class Memory(NamedTuple):
    id: str
    author: Literal["user", "assistant"]
    text: str


class Query(NamedTuple):
    user: str
    text: str
    kind: Literal["keyword", "question"]
    relevant: frozenset[str]


def _m(user: str, rows: list[tuple[str, str]]) -> list[Memory]:
    authors: dict[str, Literal["user", "assistant"]] = {
        "u": "user",
        "a": "assistant",
    }
    return [
        Memory(f"{user}-{i:02d}", authors[who], text)
        for i, (who, text) in enumerate(rows, start=1)
    ]


MEMORIES: dict[str, list[Memory]] = {
    "alice": _m(
        "alice",
        [
            ("u", "My cat Miso is a grey British Shorthair, she turns four in May."),
            ("a", "Noted: Miso is your four-year-old grey cat."),
            ("u", "I'm allergic to penicillin, please remember that."),
            ("u", "My sister Clara lives in Lisbon with her husband Tomás."),
            ("u", "Book me a dentist appointment for next Tuesday morning."),
            ("a", "Your dentist appointment with Dr. Okafor is Tuesday at 9:30."),
            ("u", "I work as a backend engineer at a logistics startup, Freightly."),
            ("u", "My manager at Freightly is Priya; our one-on-one is on Thursdays."),
            ("u", "I prefer window seats on flights and I never check a bag."),
            ("a", "I booked your flight to Lisbon on March 14, window seat 23A."),
            ("u", "My favourite food is ramen, especially tonkotsu."),
            ("u", "I'm vegetarian on weekdays but eat fish on weekends."),
            ("u", "Remind me to renew my passport before it expires in August."),
            ("a", "Your passport renewal reminder is set for June 1."),
            ("u", "My running goal this year is a half marathon under two hours."),
            ("u", "I ran 12 kilometres along the river this morning."),
            ("u", "We are renovating the kitchen; the contractor is Builder Bros."),
            ("a", "The kitchen renovation quote from Builder Bros was 18,000 euros."),
            ("u", "My partner Sam is allergic to peanuts."),
            ("u", "Sam's birthday is on October 3rd; he likes jazz records."),
            ("a", "Gift idea for Sam: a Blue Note vinyl reissue of Coltrane."),
            ("u", "I'm learning Portuguese on Duolingo to talk with Tomás's family."),
            ("u", "My car is a 2018 Toyota Corolla hybrid, service due at 90,000 km."),
            ("a", "The Corolla service is booked at the Elm Street garage, April 2."),
            ("u", "Miso needs her vaccination booster at the vet in April."),
            ("a", "Vet appointment for Miso's booster: April 11 at Green Paws."),
            ("u", "I take vitamin D in the winter months."),
            ("u", "My doctor is Dr. Hannah Weiss at the Riverside practice."),
            ("u", "I have a mild lactose intolerance, oat milk is fine."),
            ("u", "Our team uses Python and Go; I mostly write Go services."),
            ("u", "I'm presenting the routing service at the all-hands on Friday."),
            ("a", "Slides for the routing talk are in the shared folder 'Q2 talks'."),
            ("u", "My mother's name is Ingrid and she lives in Stockholm."),
            ("u", "Mum's phone number changed, it's in my contacts now."),
            ("u", "I want to visit Kyoto in autumn to see the maple leaves."),
            ("a", "Kyoto in mid-November is the peak of the autumn foliage."),
            ("u", "I'm reading 'The Left Hand of Darkness' by Ursula K. Le Guin."),
            ("u", "Book club meets on the first Wednesday of each month."),
            ("u", "My bank is Nordea; I moved my savings to a fixed deposit."),
            ("u", "Cancel my gym membership at FitHub, I only run outside now."),
            ("a", "Your FitHub membership is cancelled from the end of the month."),
            ("u", "I'm afraid of heights, no glass-floor attractions please."),
            ("u", "My shoe size is 39 EU."),
            ("u", "The plumber fixed the leaking bathroom sink on Monday."),
            ("u", "Sam and I are planning our wedding next September in Sintra."),
            (
                "a",
                "Three wedding venues in Sintra are free in September: Quinta da "
                "Regaleira, Palácio de Seteais and Quinta do Vale.",
            ),
            ("u", "My favourite band is Radiohead; I saw them live in 2016."),
            ("u", "I drink my coffee black, no sugar."),
            ("u", "Tomás recommended a pastry shop in Belém for pastéis de nata."),
            ("a", "The weather in Lisbon next week: sunny, 22 degrees."),
        ],
    ),
    "bruno": _m(
        "bruno",
        [
            ("u", "Je m'appelle Bruno, j'habite à Montréal depuis 2019."),
            ("u", "I moved from São Paulo to Montréal for my PhD in robotics."),
            ("u", "My favourite café is Café Olimpico on Saint-Viateur."),
            ("a", "Noted: your usual order at Café Olimpico is a double espresso."),
            ("u", "Mon vélo a été volé devant l'université McGill."),
            ("a", "I filed the police report for your stolen bike, ref MTL-4471."),
            ("u", "My thesis advisor is Professor Élodie Marchand."),
            ("u", "The thesis defence is scheduled for June 12, Trottier building."),
            ("u", "I need to update my résumé for the Boston Dynamics internship."),
            ("a", "Your resume now lists the ROS2 navigation project and ICRA paper."),
            ("u", "My grandmother in Curitiba turns ninety on August 5."),
            ("u", "Remind me to call vovó Lúcia every Sunday."),
            ("u", "I'm lactose intolerant and I don't eat pork."),
            ("u", "I play bass in a bossa nova band called Saudade Trio."),
            ("a", "Saudade Trio's next gig is at Casa del Popolo on Friday, 9pm."),
            ("u", "My apartment lease on rue Saint-Denis ends in July."),
            ("a", "Three apartments near Jean-Talon market fit your 1,400 CAD budget."),
            ("u", "The landlord is Monsieur Gagnon, he prefers texts to calls."),
            ("u", "I'm flying to Zürich for the robotics summer school in August."),
            ("a", "Flight to Zürich booked: Air Canada AC878, August 18, 18:05."),
            ("u", "My Swiss visa requires a letter from the summer school."),
            ("u", "I use a Lenovo ThinkPad X1 running Ubuntu for my research."),
            ("u", "The lab's robot arm is a Franka Panda; the gripper broke."),
            ("a", "The replacement gripper for the Franka Panda arrives Thursday."),
            ("u", "My girlfriend Inès is a nurse at the Jewish General Hospital."),
            ("u", "Inès works night shifts, so don't schedule calls before noon."),
            ("u", "We adopted a dog named Pipoca, a golden retriever puppy."),
            ("a", "Pipoca's puppy training classes are on Saturdays at 10am."),
            ("u", "I'm learning to ski at Mont-Tremblant this winter."),
            ("u", "Mes parents viennent me rendre visite à Noël."),
            ("u", "My parents arrive from São Paulo on December 20."),
            ("a", "I reserved a table at Joe Beef for your parents on December 22."),
            ("u", "I have a scholarship from FRQNT that renews every September."),
            ("u", "My Portuguese passport number is in my documents folder."),
            ("u", "I support Corinthians, the football club from São Paulo."),
            ("u", "Coffee after 4pm keeps me awake, suggest decaf."),
            ("u", "My favourite dish is feijoada, my mom's recipe."),
            (
                "a",
                "Vegetarian feijoada recipe saved: black beans, smoked tofu, "
                "collard greens and orange.",
            ),
            ("u", "The ICRA paper was accepted; the conference is in Yokohama."),
            ("u", "Reviewer 2 asked for more experiments on the navigation benchmark."),
            ("a", "Deadline for the camera-ready version of the ICRA paper: Feb 28."),
            ("u", "I'm saving for a Fender Jazz Bass."),
            ("u", "J'ai un rendez-vous chez le médecin jeudi à 14h."),
            ("a", "Your doctor's appointment is Thursday 2pm, Clinique du Plateau."),
            ("u", "Ski rental at Mont-Tremblant costs 65 dollars a day."),
        ],
    ),
    "chen": _m(
        "chen",
        [
            ("u", "我的猫叫小白，是一只白色的波斯猫。"),
            ("u", "我对花生过敏。"),
            ("u", "我在上海的一家银行工作，做风险管理。"),
            ("a", "已记录：你在上海从事银行风险管理工作。"),
            ("u", "下周三我要去北京出差，住在王府井附近。"),
            ("a", "已为你预订北京王府井希尔顿酒店，三晚。"),
            ("u", "我妈妈住在杭州，她喜欢喝龙井茶。"),
            ("u", "妈妈的生日是九月十八号。"),
            ("u", "我最喜欢的运动是羽毛球，每周六早上打。"),
            ("u", "我正在学习日语，准备明年去东京留学。"),
            ("u", "東京の大学院に出願しました。"),
            ("a", "出願書類の締め切りは十二月一日です。"),
            ("u", "日本語能力試験のN2に合格しました！"),
            ("u", "私の趣味は写真で、富士山を撮りに行きたいです。"),
            ("a", "富士山の撮影には河口湖がおすすめです。"),
            ("u", "I'm Chen, I use English at work but Chinese with family."),
            ("u", "My English name is Vivian."),
            ("u", "我的车是特斯拉Model 3，白色的。"),
            ("a", "特斯拉Model 3的保养预约在四月五日。"),
            ("u", "我每天早上喝一杯咖啡，不加糖。"),
            ("u", "我弟弟在深圳做程序员。"),
            ("u", "弟弟下个月结婚，婚礼在深圳举行。"),
            ("a", "为弟弟的婚礼准备的红包金额是两千元。"),
            ("u", "我有轻微的哮喘，跑步时要带吸入器。"),
            ("u", "ラーメンが大好きです。特に味噌ラーメン。"),
            ("u", "京都で紅葉を見たいです。"),
            ("a", "京都の紅葉は十一月中旬が見頃です。"),
            ("u", "我养了两条金鱼，放在办公室里。"),
            ("u", "I'm planning a trip to Hokkaido in February for the snow festival."),
            ("a", "Sapporo Snow Festival runs from February 4 to 11."),
            ("u", "我的护照号码存在手机备忘录里。"),
            ("u", "下个月要续签护照。"),
            ("u", "我喜欢看科幻小说，最喜欢刘慈欣的《三体》。"),
            ("u", "周末我常去西湖边散步。"),
            ("a", "本周末杭州天气晴，适合去西湖散步。"),
            ("u", "My bank's annual risk report is due at the end of March."),
            ("u", "我的医生是张医生，在华山医院。"),
            ("u", "哮喘复查预约在五月十日。"),
            ("u", "小白需要打疫苗了。"),
            ("a", "小白的疫苗预约在宠物医院，四月二十日上午十点。"),
        ],
    ),
    "dana": _m(
        "dana",
        [
            ("u", "My order A-1042 hasn't arrived yet, it was due Monday."),
            ("a", "Order A-1042 is delayed at the Newark hub; new estimate Thursday."),
            ("u", "I was charged twice for my March invoice."),
            ("a", "Refund of 49.99 USD for the duplicate March charge was issued."),
            ("u", "Our office wifi keeps dropping every afternoon."),
            ("a", "Ticket T-2231 opened for intermittent wifi drops at the office."),
            (
                "u",
                "Please ship everything to my new address: 77 Harbor Road, Portland.",
            ),
            ("a", "Shipping address updated to 77 Harbor Road, Portland, OR 97201."),
            ("u", "I'd like to upgrade our plan from Team to Business."),
            ("a", "Your plan was upgraded to Business; the price is 30 USD per seat."),
            ("u", "We have 14 seats; add two more for the new hires."),
            ("a", "Two seats added; you now have 16 seats on the Business plan."),
            ("u", "The printer in meeting room B shows error E-52."),
            (
                "a",
                "Error E-52 means a paper jam in tray 2; a technician visits Friday.",
            ),
            ("u", "Our company name is Northwind Studio."),
            ("u", "Invoices should go to accounting@northwind.example, not to me."),
            ("a", "Invoice recipient changed to the accounting address."),
            ("u", "Return the broken keyboard from order A-0988."),
            ("a", "Return label for the A-0988 keyboard emailed; refund on receipt."),
            ("u", "The VPN client disconnects when I switch networks."),
            ("a", "Ticket T-2290: VPN reconnect issue; enable 'reconnect on change'."),
            ("u", "We prefer deliveries after 10am because the front desk opens then."),
            ("u", "Our tax ID for invoices is US-88-1234567."),
            ("u", "I'd like to cancel the monitor from order A-1107 before it ships."),
            ("a", "The monitor on order A-1107 was cancelled; you won't be charged."),
            ("u", "What's the status of the wifi ticket?"),
            ("a", "Ticket T-2231 update: router firmware upgraded, wifi stable now."),
            ("u", "I need a quote for 20 ergonomic chairs."),
            ("a", "Quote Q-551 for 20 ergonomic chairs: 6,380 USD with delivery."),
            ("u", "Our fiscal year ends in June, so budget approvals happen in May."),
            ("u", "Dana is the admin; Marco from IT is the backup contact."),
            ("u", "Marco's phone is the one on file for after-hours outages."),
            ("u", "The conference room display won't connect via HDMI."),
            ("a", "Ticket T-2302 for the HDMI display; the adapter is being replaced."),
            ("u", "We use Slack for internal chat and Google Workspace for email."),
            ("u", "Please don't call during our Monday standup, 9 to 9:30."),
            ("u", "Order A-1042 finally arrived but the box was damaged."),
            ("a", "Damage claim C-118 opened for order A-1042; photos received."),
            ("u", "Can we pay by bank transfer instead of card?"),
            ("a", "Bank transfer enabled for your account; invoices show the IBAN."),
            ("u", "The laptops from order A-1150 need Windows 11 Pro, not Home."),
            ("a", "Order A-1150 updated to Windows 11 Pro for all 5 laptops."),
            ("u", "Our warranty for the office printers expires in October."),
            ("a", "Extended warranty offer for the printers: 2 years for 240 USD."),
        ],
    ),
    "eli": _m(
        "eli",
        [
            ("u", "I'm training for the Berlin marathon in September."),
            ("u", "My long run this Sunday was 28 km at 5:40 per km."),
            ("a", "Marathon plan: peak week is 3 weeks before Berlin, then taper."),
            ("u", "I bake sourdough every weekend; my starter is called Bubbles."),
            ("a", "Sourdough tip: feed Bubbles 12 hours before baking, 1:5:5 ratio."),
            ("u", "I play chess online, my rating is around 1650."),
            ("u", "I'm learning the Sicilian Defense, Najdorf variation."),
            ("u", "My favourite novel is 'One Hundred Years of Solitude'."),
            ("u", "I'm reading 'Project Hail Mary' by Andy Weir right now."),
            ("a", "Next in your reading list: 'Klara and the Sun' by Kazuo Ishiguro."),
            ("u", "I play acoustic guitar, mostly fingerstyle folk."),
            ("u", "I want to learn 'Blackbird' by the Beatles on guitar."),
            ("a", "Blackbird tab saved; it's in G with a drop-D variant."),
            ("u", "My knee hurts after long runs, on the outside of the left knee."),
            ("a", "Outer knee pain after running is often IT band syndrome."),
            ("u", "My physio appointment is on Wednesday at 5pm with Lena."),
            ("u", "I grow tomatoes, basil and chillies on my balcony."),
            ("a", "Balcony tomatoes need watering daily in July heat."),
            ("u", "I'm vegan since 2021."),
            ("u", "Favourite vegan recipe: chickpea curry with coconut milk."),
            ("a", "Saved recipe: chickpea curry, 400 g chickpeas, coconut milk."),
            ("u", "I listen to podcasts while running, mostly history shows."),
            ("u", "Recommend me a podcast about Roman history."),
            ("a", "Try 'The History of Rome' by Mike Duncan."),
            ("u", "I'm going birdwatching in the Scottish Highlands in May."),
            ("a", "Highlands in May: good chances to see ospreys and golden eagles."),
            ("u", "I bought new running shoes, Saucony Endorphin Speed."),
            ("u", "My shoes for long runs are the Brooks Glycerin."),
            ("u", "I do yoga on Tuesdays and Thursdays for flexibility."),
            ("u", "I'm building a birdhouse with my niece Maya."),
            ("u", "Maya is eight and loves dinosaurs."),
            ("a", "Gift idea for Maya: a dinosaur fossil excavation kit."),
            ("u", "I volunteer at the community garden on Saturday mornings."),
            ("u", "My bread oven is a Dutch oven from Le Creuset."),
            ("u", "I write a blog about slow running and plant-based eating."),
            ("a", "Blog post ideas: marathon fuelling on a vegan diet."),
            ("u", "The chess club meets Thursday evenings at the library café."),
            ("u", "I lost my chess tournament game with the Najdorf last weekend."),
            ("u", "My marathon goal time is 3 hours 30 minutes."),
            ("u", "I tried a new focaccia recipe with rosemary and olives."),
        ],
    ),
}


def _q(
    user: str, text: str, kind: Literal["keyword", "question"], *numbers: int
) -> Query:
    return Query(user, text, kind, frozenset(f"{user}-{n:02d}" for n in numbers))


QUERIES: list[Query] = [
    # alice
    _q("alice", "dentist appointment", "keyword", 5, 6),
    _q("alice", "cat", "keyword", 1, 2, 25, 26),
    _q("alice", "What is the name of the user's cat?", "question", 1, 2),
    _q("alice", "What is the user allergic to?", "question", 3, 19),
    _q("alice", "Where does my sister live?", "question", 4),
    _q("alice", "Sam birthday gift", "keyword", 20, 21),
    _q("alice", "passport renewal", "keyword", 13, 14),
    _q("alice", "Miso vet vaccination", "keyword", 25, 26),
    _q("alice", "kitchen renovation cost", "keyword", 17, 18),
    _q("alice", "wedding venue in Sintra", "keyword", 45, 46),
    _q("alice", "When is the car service booked?", "question", 23, 24),
    _q("alice", "half marathon running goal", "keyword", 15, 16),
    # bruno
    _q("bruno", "stolen bike police report", "keyword", 5, 6),
    _q("bruno", "CAFE OLIMPICO", "keyword", 3, 4),
    _q("bruno", "resume internship", "keyword", 9, 10),
    _q("bruno", "Zurich flight", "keyword", 19, 20),
    _q("bruno", "When is grandmother's birthday?", "question", 11),
    _q("bruno", "Pipoca dog training", "keyword", 27, 28),
    _q("bruno", "parents visit in December", "keyword", 30, 31, 32),
    _q("bruno", "ICRA paper camera-ready deadline", "keyword", 39, 41),
    _q("bruno", "rendez-vous médecin", "keyword", 43, 44),
    _q(
        "bruno",
        "What does the user know about the apartment lease?",
        "question",
        16,
        17,
        18,
    ),
    _q("bruno", "When is the thesis defence?", "question", 8),
    # chen
    _q("chen", "猫", "keyword", 1, 39, 40),
    _q("chen", "小白 疫苗", "keyword", 39, 40),
    _q("chen", "北京出差", "keyword", 5, 6),
    _q("chen", "妈妈生日", "keyword", 8),
    _q("chen", "東京 留学", "keyword", 10, 11),
    _q("chen", "富士山", "keyword", 14, 15),
    _q("chen", "哮喘", "keyword", 24, 38),
    _q("chen", "Hokkaido snow festival", "keyword", 29, 30),
    _q("chen", "弟弟的婚礼", "keyword", 22, 23),
    _q("chen", "护照", "keyword", 31, 32),
    _q("chen", "京都の紅葉", "keyword", 26, 27),
    # dana
    _q("dana", "A-1042", "keyword", 1, 2, 37, 38),
    _q("dana", "wifi ticket", "keyword", 5, 6, 26, 27),
    _q("dana", "duplicate charge refund", "keyword", 3, 4),
    _q("dana", "What is the shipping address?", "question", 7, 8),
    _q("dana", "printer error E-52", "keyword", 13, 14),
    _q("dana", "VPN disconnects", "keyword", 20, 21),
    _q("dana", "ergonomic chairs quote", "keyword", 28, 29),
    _q("dana", "cancel monitor order", "keyword", 24, 25),
    _q("dana", "Which email address should invoices go to?", "question", 16, 17),
    _q("dana", "How many seats on the Business plan?", "question", 9, 10, 11, 12),
    _q("dana", "printer warranty", "keyword", 43, 44),
    # eli
    _q("eli", "marathon goal time", "keyword", 1, 3, 39),
    _q("eli", "sourdough starter", "keyword", 4, 5),
    _q("eli", "knee pain after running", "keyword", 14, 15, 16),
    _q("eli", "chess", "keyword", 6, 7, 37, 38),
    _q("eli", "vegan recipe", "keyword", 20, 21),
    _q("eli", "Which song is the user learning on guitar?", "question", 12, 13),
    _q("eli", "running shoes", "keyword", 27, 28),
    _q("eli", "podcast about Roman history", "keyword", 23, 24),
]
