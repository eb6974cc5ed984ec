"""French name pools for the demo data (every character encodable in ISO-8859-15 and
Windows-1252: accents, diaeresis, cedilla, œ; ASCII apostrophe and hyphen only).

Family names mix the most frequent French ones, Poitou-Charentes ones (Texier,
Pouvreau, Sauzeau…), particles and compound names (`D'Almeida`, `Le Gall`,
`Boulanger-Rivière`); first names are those given around 2000–2012. The identity
normalisation of rules.md §1 (NFKD, accents removed, hyphens/apostrophes → space) makes
`D'ALMEIDA` = `D ALMEIDA` and `Jean-Baptiste` = `JEAN BAPTISTE`, which the sources below
exploit: SIECLE writes family names in capitals with accents, the contract registry in
capitals without accents, I-MILO and the CTI as typed.
"""

from __future__ import annotations

FAMILY_NAMES: tuple[str, ...] = (
    "Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit", "Durand",
    "Leroy", "Moreau", "Simon", "Laurent", "Lefèvre", "Michel", "Garcia", "David",
    "Bertrand", "Roux", "Vincent", "Fournier", "Morel", "Girard", "André", "Lefebvre",
    "Mercier", "Dupont", "Lambert", "Bonnet", "François", "Martinez", "Legrand", "Garnier",
    "Faure", "Rousseau", "Blanc", "Guérin", "Muller", "Henry", "Roussel", "Nicolas",
    "Perrin", "Morin", "Mathieu", "Clément", "Gauthier", "Dumont", "Lopez", "Fontaine",
    "Chevalier", "Robin", "Masson", "Sanchez", "Gérard", "Nguyen", "Boyer", "Denis",
    "Lemaire", "Duval", "Joly", "Gautier", "Roger", "Roche", "Roy", "Noël", "Meyer",
    "Lucas", "Meunier", "Jean", "Pérez", "Marchand", "Dufour", "Blanchard", "Marie",
    "Barbier", "Brun", "Dumas", "Brunet", "Schmitt", "Leroux", "Colin", "Fernandez",
    "Pierre", "Renard", "Arnaud", "Rolland", "Caron", "Aubert", "Giraud", "Leclerc",
    "Vidal", "Bourgeois", "Renaud", "Lemoine", "Picard", "Gaillard", "Philippe", "Leclercq",
    "Lacroix", "Fabre", "Dupuis", "Olivier", "Rodriguez", "Da Silva", "Hubert", "Louis",
    "Charles", "Guillot", "Rivière", "Le Gall", "Guillaume", "Adam", "Rey", "Moulin",
    "Gonzalez", "Berger", "Lecomte", "Ménard", "Fleury", "Deschamps", "Carpentier",
    "Julien", "Benoît", "Paris", "Maillard", "Marchal", "Aubry", "Vasseur", "Le Roux",
    "Renault", "Jacquet", "Collet", "Prévost", "Poirier", "Charpentier", "Royer", "Huet",
    "Baron", "Dupuy", "Pons", "Paul", "Laine", "Carré", "Breton", "Rémy", "Schneider",
    "Perrot", "Guyot", "Barre", "Marty", "Cousin", "Texier", "Martineau", "Pouvreau",
    "Sauzeau", "Chauvet", "Bodin", "Guillon", "Rabier", "Pineau", "Nadeau", "Bouchet",
    "Babin", "Gendron", "Bonneau", "Brisset", "Moinard", "Tessier", "Audebert",
    "Baudouin", "Chaigneau", "Guignard", "Proust", "Berthelot", "Bénéteau", "Bernardeau",
    "Micheneau", "Fradin", "Jolly", "Raffin", "Frère", "Naud", "Vrignaud", "Gaboriau",
    "Chateigner", "Bérard", "Bâtard", "Pénicaud", "Coutant", "Métayer", "Sicard",
    "D'Almeida", "N'Diaye", "Dos Santos", "Le Goff", "Lemaître", "Saint-Martin",
    "De Oliveira", "Ben Ahmed", "Traoré", "Diallo", "Pereira", "Fernandes", "Kowalski",
    "Boulanger-Rivière", "Martin-Prévost", "Cœurdevey", "L'Hermite", "Després", "Forgeât",
    "Ducos", "Hoarau", "Camara", "Haddad", "Benali", "Rocher", "Naël",
)

FIRST_NAMES_F: tuple[str, ...] = (
    "Emma", "Léa", "Chloé", "Manon", "Inès", "Camille", "Jade", "Louise", "Lina", "Zoé",
    "Lola", "Sarah", "Juliette", "Anaïs", "Océane", "Clara", "Maëlys", "Lilou", "Éva",
    "Alicia", "Mathilde", "Pauline", "Marine", "Justine", "Élodie", "Laurine", "Lucie",
    "Romane", "Noémie", "Héloïse", "Maëva", "Anne-Sophie", "Marie-Lou", "Aïcha",
    "Fatoumata", "Ambre", "Margaux", "Clémence", "Agathe", "Célia", "Éléna", "Mélissa",
    "Léna", "Nina", "Lison", "Capucine", "Salomé", "Apolline", "Maëlle", "Gaëlle", "Énora",
    "Flavie", "Morgane", "Aurélie", "Charlotte", "Elsa", "Maïwenn", "Solène",
    "Yasmine", "Héléna", "Loane", "Axelle", "Jeanne", "Mélodie", "Noëlie", "Cassandra",
)

FIRST_NAMES_M: tuple[str, ...] = (
    "Lucas", "Hugo", "Louis", "Gabriel", "Arthur", "Jules", "Nathan", "Théo", "Enzo",
    "Raphaël", "Tom", "Mathis", "Noah", "Ethan", "Maël", "Timéo", "Sacha", "Nolan", "Evan",
    "Kylian", "Mathéo", "Clément", "Baptiste", "Maxime", "Alexandre", "Antoine", "Thomas",
    "Quentin", "Romain", "Valentin", "Loïc", "Gaël", "Jérémy", "Noé", "Léo", "Adam",
    "Rayan", "Yanis", "Mohamed", "Jean-Baptiste", "Pierre-Louis", "Paul-Henri", "Killian",
    "Dylan", "Kévin", "Florian", "Aurélien", "Benoît", "Cédric", "Damien", "Jérôme",
    "Sébastien", "Bastien", "Corentin", "Anthony", "Lény", "Titouan", "Mattéo", "Célestin",
    "Eliott", "Ilyès", "Naël", "Axel", "Émile", "Joachim", "François", "Loris", "Mehdi",
)

# Second given names (SIECLE PRENOM2): never part of the name key.
SECOND_NAMES_F: tuple[str, ...] = ("Marie", "Anne", "Louise", "Rose", "Claire", "Hélène", "Jeanne", "Sophie", "")
SECOND_NAMES_M: tuple[str, ...] = ("Pierre", "Jean", "Louis", "Marie", "André", "Joseph", "Henri", "Luc", "")

CTI_MOTIFS_REPERAGE: tuple[str, ...] = (
    "absences répétées, démotivation",
    "retards fréquents et absences perlées",
    "demande de réorientation, projet professionnel à revoir",
    "repéré par l'équipe pédagogique : perte de sens de la formation",
    "signalement du CPE après trois semaines d'absences",
    "difficultés en entreprise pendant la période de formation en milieu professionnel",
    "décrochage repéré en conseil de classe",
)
CTI_MOTIFS_SUIVI: tuple[str, ...] = (
    "entretien individuel réalisé",
    "rencontre avec la famille et le professeur principal",
    "remobilisation en cours, assiduité en hausse",
    "mise en relation avec la Mission locale",
    "stage de découverte proposé",
    "point d'étape avec le CPE",
)
CTI_MOTIFS_CLOTURE: tuple[str, ...] = (
    "retour en classe régulier, fin du suivi",
    "assiduité rétablie depuis un mois",
    "projet de réorientation construit, suivi clos",
)
CTI_MOTIFS_REGION: tuple[str, ...] = (
    "recherche d'un nouvel employeur, CV transmis",
    "entretien après rupture, maintien en formation au CFA",
    "mise en relation avec deux entreprises du bâtiment",
)
