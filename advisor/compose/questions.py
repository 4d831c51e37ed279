"""The question to ask when a profile fact is not settled, in English and Chinese.

When a rule depends on a fact the profile leaves unknown (``Profile.unknown``, an undeclared
public-opinion status, a customer-facing service whose openness is not stated), the obligation is
"to confirm" and the assessment asks the question below. Every field a profile may leave unknown
has one (a test checks it).
"""

from __future__ import annotations

QUESTIONS: dict[str, tuple[str, str]] = {
    "public_service": (
        "Is the service open to the public in mainland China - can any person or organisation there sign up or use it "
        "(the Generative AI Measures count organisations as users, Art. 22)?",
        "该服务是否向中国境内公众开放，即境内任何个人或组织都可以注册、使用（《生成式人工智能服务管理暂行办法》第二十二条将组织也列为使用者）？"),
    "public_opinion_or_mobilisation": (
        "Does the service have public-opinion attributes or social mobilisation capacity: forums, comments, chat groups, "
        "public accounts, short video, live streaming or information sharing, or another channel through which the public "
        "expresses opinions or can be mobilised (2018 Security Assessment Provisions, Art. 2)?",
        "该服务是否具有舆论属性或者社会动员能力：开办论坛、评论、群组、公众账号、短视频、网络直播、信息分享等功能，或者提供公众舆论表达渠道、"
        "具有发动社会公众从事特定活动的能力（《具有舆论属性或社会动员能力的互联网信息服务安全评估规定》第二条）？"),
    "internal_only": ("Is the service used only inside the business (staff or R&D)?", "该服务是否仅在企业内部（员工、研发）使用？"),
    "customer_facing": ("Is the service used by the business's own customers?", "该服务是否供本企业的客户使用？"),
    "launched": ("Is the service already live?", "该服务是否已经上线？"),
    "entity_location": ("Is the business established in mainland China or outside it?", "企业主体设立在中国境内还是境外？"),
    "sector": ("Which sector does the business operate in (finance, healthcare, education ...)?", "企业属于哪个行业（金融、医疗、教育等）？"),
    "features.generative_text": ("Does the service generate text (chat, writing, answers)?", "该服务是否生成文本（对话、写作、问答）？"),
    "features.generative_image": ("Does the service generate images?", "该服务是否生成图片？"),
    "features.generative_audio": ("Does the service generate audio (speech, music, sound)?", "该服务是否生成音频（语音、音乐、声音）？"),
    "features.generative_video": ("Does the service generate video?", "该服务是否生成视频？"),
    "features.face_or_voice_editing": ("Does the service generate or edit people's faces or voices (face swap, voice cloning)?",
                                       "该服务是否生成或编辑人脸、人声（换脸、声音克隆）？"),
    "features.virtual_scenes": ("Does the service generate digital humans or immersive realistic scenes?", "该服务是否生成数字人或沉浸式拟真场景？"),
    "features.algorithmic_recommendation": (
        "Does the service recommend, rank, filter or push content to users by algorithm (feeds, search ranking, scheduling)?",
        "该服务是否通过算法向用户推荐、排序、过滤或推送信息（信息流、搜索排序、调度决策）？"),
    "features.work_scheduling": ("Does the service assign orders or schedule workers by algorithm?", "该服务是否通过算法派单或调度劳动者？"),
    "features.user_publishing": ("Can users publish information or message each other on the service?", "用户能否在该服务上发布信息或相互交流？"),
    "features.publishes_ai_content": ("Does the business publish AI-generated content (its own or its clients')?",
                                      "企业是否发布AI生成的内容（自己的或客户的）？"),
    "features.emotional_companion": (
        "Does the service offer sustained emotional interaction simulating a person (companionship, emotional support, a "
        "virtual friend or partner), rather than customer service, Q&A or a work assistant?",
        "该服务是否提供模拟自然人的持续性情感互动（情感陪伴、情感支持、虚拟朋友或伴侣），而不只是客服、问答或工作助手？"),
    "features.api_access": ("Does the business offer its models or tools to other businesses (API, SDK)?", "企业是否向其他企业提供模型或工具（API、SDK）？"),
    "features.third_party_platform": ("Does the service host third-party sellers, apps or creators?", "该服务是否有第三方经营者、应用或创作者入驻？"),
    "features.app_distribution": ("Does the business distribute other parties' apps (an app store)?", "企业是否分发第三方应用（应用商店）？"),
    "features.sells_to_consumers": ("Does the business sell goods or services to consumers through the service?", "企业是否通过该服务向消费者销售商品或服务？"),
    "features.targeted_advertising": ("Does the service show ads or marketing chosen by automated decision?", "该服务是否通过自动化决策进行定向广告或营销？"),
    "users": ("How many registered users does the service have (or users, if there is no registration)?", "该服务有多少注册用户（无需注册的，用户数量）？"),
    "monthly_active_users": ("How many monthly active users does the service have?", "该服务的月活跃用户有多少？"),
    "minors_among_users": ("Are there users under 18?", "用户中是否有未满十八周岁的未成年人？"),
    "elderly_users": ("Are older people among the users?", "用户中是否有老年人？"),
    "children_under_14": ("Does the business process personal information of children under 14?", "企业是否处理不满十四周岁未成年人的个人信息？"),
    "personal_information": ("Does the business process personal information (names, phone numbers, chat logs, accounts ...)?",
                             "企业是否处理个人信息（姓名、电话、聊天记录、账号等）？"),
    "pi_role": ("Does the business decide why and how the personal information is processed, or does it process it only on "
                "behalf of other businesses (as an entrusted processor)?",
                "企业是自主决定个人信息的处理目的和方式，还是仅受其他企业委托处理个人信息（受托人）？"),
    "pi_subjects": ("How many people's personal information does the business process?", "企业处理多少人的个人信息？"),
    "sensitive_pi": ("Does the business process sensitive personal information (health, financial accounts, whereabouts, "
                     "biometrics, religion, children under 14)?", "企业是否处理敏感个人信息（医疗健康、金融账户、行踪轨迹、生物识别、宗教信仰、不满十四周岁未成年人的信息）？"),
    "sensitive_pi_subjects": ("How many people's sensitive personal information does the business process?", "企业处理多少人的敏感个人信息？"),
    "biometric": ("Does the business process biometric information (face, voiceprint, fingerprint)?", "企业是否处理生物识别信息（人脸、声纹、指纹）？"),
    "processing.shares_with_third_parties": ("Does the business provide personal information to other independent handlers?",
                                             "企业是否向其他个人信息处理者提供个人信息？"),
    "processing.uses_processors": ("Does the business entrust processing to others (cloud, outsourcers, model APIs)?",
                                   "企业是否委托他人处理个人信息（云服务、外包、模型接口）？"),
    "processing.publishes_pi": ("Does the business make personal information public?", "企业是否公开个人信息？"),
    "processing.public_space_cameras": ("Does the business capture images or identify people in public places?", "企业是否在公共场所进行图像采集、个人身份识别？"),
    "processing.automated_decisions": ("Does the business decide about individuals by automated analysis (scoring, pricing)?",
                                       "企业是否通过自动化分析对个人作出决策（评分、定价等）？"),
    "processing.face_recognition": ("Does the business recognise or verify people by their face?", "企业是否应用人脸识别技术识别或验证个人身份？"),
    "cross_border.subjects": ("Whose personal information goes outside mainland China, and how many people since 1 January "
                              "this year (storage on a server abroad, a foreign model API, a parent company abroad)?",
                              "自当年1月1日起，有多少人的个人信息被提供到境外（存储在境外服务器、调用境外模型接口、提供给境外母公司等）？"),
    "cross_border.sensitive_subjects": ("How many people's sensitive personal information goes abroad since 1 January this year?",
                                        "自当年1月1日起，有多少人的敏感个人信息被提供到境外？"),
    "cross_border.important_data": ("Does any important data go abroad?", "是否有重要数据出境？"),
    "cross_border.exemption": ("Is each transfer abroad necessary for a contract with the individual, for cross-border HR "
                               "management, or for an emergency (Cross-Border Provisions Art. 5(1)-(3))?",
                               "出境是否为订立、履行个人作为一方当事人的合同、跨境人力资源管理或紧急情况所必需（《促进和规范数据跨境流动规定》第五条第一至三项）？"),
    "cii_operator": ("Has the business been notified that it operates critical information infrastructure?", "企业是否已被认定为关键信息基础设施运营者？"),
    "important_data": ("Does the business process data identified or notified as important data?", "企业是否处理被识别或告知为重要数据的数据？"),
    "models": ("Which models does the service use: a filed domestic model, a foreign model API, or its own?", "该服务使用哪种模型：已备案的境内模型、境外模型接口，还是自有模型？"),
    "data_storage": ("Where is the data stored: mainland China, abroad, or both?", "数据存储在哪里：境内、境外，还是两者都有？"),
    "foreign_investment": ("Is the business a foreign-invested enterprise?", "企业是否为外商投资企业？"),
    "listing_foreign_country": ("Does the business plan to list in a foreign country?", "企业是否计划赴国外上市？"),
    "listing_hong_kong": ("Does the business plan to list in Hong Kong?", "企业是否计划赴香港上市？"),
}


def question(path: str) -> dict[str, str]:
    """{field, en, zh} for an unsettled profile fact (a generic question for a field without one)."""
    en, zh = QUESTIONS.get(path, (f"Please state {path}.", f"请说明 {path}。"))
    return {"field": path, "en": en, "zh": zh}


# Short labels of profile facts, for assumptions shown in answers.
FIELD_LABELS: dict[str, tuple[str, str]] = {
    "public_service": ("Open to the public in mainland China", "向境内公众提供"),
    "public_opinion_or_mobilisation": ("Public-opinion attributes", "具有舆论属性或社会动员能力"),
    "internal_only": ("Used only inside the business", "仅内部使用"),
    "customer_facing": ("Used by the business's customers", "面向本企业客户"),
    "launched": ("Already live", "已上线"),
    "entity_location": ("Business established", "主体所在地"),
    "sector": ("Sector", "行业"),
    "features.generative_text": ("Generates text", "生成文本"),
    "features.generative_image": ("Generates images", "生成图片"),
    "features.generative_audio": ("Generates audio", "生成音频"),
    "features.generative_video": ("Generates video", "生成视频"),
    "features.face_or_voice_editing": ("Generates or edits faces or voices", "人脸、人声生成或编辑"),
    "features.virtual_scenes": ("Digital humans or immersive scenes", "数字人、沉浸式拟真场景"),
    "features.algorithmic_recommendation": ("Algorithmic recommendation", "算法推荐"),
    "features.work_scheduling": ("Schedules workers by algorithm", "算法派单、调度"),
    "features.user_publishing": ("Users publish or message each other", "用户发布信息或相互交流"),
    "features.publishes_ai_content": ("Publishes AI-generated content", "发布AI生成内容"),
    "features.emotional_companion": ("Emotional companionship", "情感陪伴互动"),
    "features.api_access": ("Offers models or tools to other businesses", "向其他企业提供模型或工具"),
    "features.third_party_platform": ("Hosts third-party sellers, apps or creators", "平台内有第三方经营者"),
    "features.app_distribution": ("Distributes other parties' apps", "分发第三方应用"),
    "features.sells_to_consumers": ("Sells to consumers", "向消费者销售"),
    "features.targeted_advertising": ("Targeted advertising", "定向广告"),
    "users": ("Users", "用户数量"),
    "monthly_active_users": ("Monthly active users", "月活跃用户"),
    "minors_among_users": ("Minors among the users", "用户中有未成年人"),
    "elderly_users": ("Older people among the users", "用户中有老年人"),
    "children_under_14": ("Children under 14", "不满十四周岁未成年人"),
    "personal_information": ("Processes personal information", "处理个人信息"),
    "pi_role": ("Role for personal information", "个人信息处理角色"),
    "pi_subjects": ("People whose personal information is processed", "个人信息涉及人数"),
    "sensitive_pi": ("Sensitive personal information", "敏感个人信息"),
    "sensitive_pi_subjects": ("People with sensitive personal information processed", "敏感个人信息涉及人数"),
    "biometric": ("Biometric information", "生物识别信息"),
    "processing.face_recognition": ("Face recognition", "人脸识别"),
    "processing.uses_processors": ("Entrusts processing to others", "委托处理"),
    "processing.shares_with_third_parties": ("Shares personal information with third parties", "向第三方提供个人信息"),
    "cross_border.subjects": ("People whose personal information goes abroad", "出境个人信息涉及人数"),
    "cii_operator": ("Critical information infrastructure operator", "关键信息基础设施运营者"),
    "important_data": ("Important data", "重要数据"),
    "models": ("Models used", "所用模型"),
    "data_storage": ("Where data is stored", "数据存储地"),
    "foreign_investment": ("Foreign-invested enterprise", "外商投资企业"),
    "listing_foreign_country": ("Plans to list in a foreign country", "拟赴国外上市"),
    "listing_hong_kong": ("Plans to list in Hong Kong", "拟赴香港上市"),
    "platforms": ("Publishes on", "发布平台"),
}
